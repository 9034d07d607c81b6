/* lua_main: runs bench.lua (embedded by benches/programs.py as
   bench_lua.h) on Lua 5.4 from the lua-src crate, with the base, string,
   table, math and utf8 libraries. The same code runs natively and in
   wasm: both builds get LUAI_THROW/LUAI_TRY defined to abort, because
   wasm32-wasi has no setjmp/longjmp without the exception-handling
   proposal; so a Lua error ends the program (exit 3), and the script
   must not raise one (bench.lua uses no pcall, no coroutines). */
#include <stdio.h>
#include <stdlib.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#include "bench_lua.h"

int main(void) {
  lua_State *L = luaL_newstate();
  if (!L) return 2;
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_settop(L, 0);
  if (luaL_loadbuffer(L, bench_lua, sizeof bench_lua - 1, "bench.lua") != LUA_OK ||
      lua_pcall(L, 0, 0, 0) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    return 3;
  }
  lua_close(L);
  return 0;
}
