/* sqlite_main: a query workload on the SQLite amalgamation from the
   libsqlite3-sys crate, in an in-memory database: bulk inserts through
   prepared statements in transactions, an index, joins, GROUP BY, ORDER
   BY, LIKE, updates and deletes; prints one checksum per step. Both builds
   use SQLITE_OS_OTHER with the crate's demo VFS (wasm32-wasi-vfs.c), so
   native and wasm run the same code; nothing touches the file system. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sqlite3.h"

static sqlite3 *db;

static void die(const char *what) {
  fprintf(stderr, "sqlite: %s: %s\n", what, sqlite3_errmsg(db));
  exit(1);
}

static void exec(const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

/* Runs a query and folds every column of every row into a checksum. */
static void query(const char *label, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(sql);
  uint64_t h = 1469598103934665603ull;
  long rows = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    rows++;
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const unsigned char *t = sqlite3_column_text(st, c);
      for (; t && *t; t++) h = (h ^ *t) * 1099511628211ull;
      h = (h ^ 0xff) * 1099511628211ull;
    }
  }
  if (rc != SQLITE_DONE) die(sql);
  sqlite3_finalize(st);
  printf("%s %ld %016llx\n", label, rows, (unsigned long long)h);
}

int main(void) {
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) die("open");
  exec("CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, region INTEGER);"
       "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, amount INTEGER, note TEXT);");
  sqlite3_stmt *ic, *io;
  if (sqlite3_prepare_v2(db, "INSERT INTO customer VALUES(?1, ?2, ?3)", -1, &ic, NULL) != SQLITE_OK) die("prepare");
  if (sqlite3_prepare_v2(db, "INSERT INTO orders VALUES(?1, ?2, ?3, ?4)", -1, &io, NULL) != SQLITE_OK) die("prepare");
  uint32_t s = 7;
  char buf[64];
  exec("BEGIN");
  for (int i = 1; i <= 20000; i++) {
    s = s * 1103515245u + 12345u;
    snprintf(buf, sizeof buf, "cust%05u-%c%c", (s >> 8) % 100000, 'a' + (s >> 20) % 26, 'a' + (s >> 25) % 26);
    sqlite3_bind_int(ic, 1, i);
    sqlite3_bind_text(ic, 2, buf, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ic, 3, (int)((s >> 16) % 40));
    if (sqlite3_step(ic) != SQLITE_DONE) die("insert customer");
    sqlite3_reset(ic);
  }
  for (int i = 1; i <= 200000; i++) {
    s = s * 1103515245u + 12345u;
    snprintf(buf, sizeof buf, "note %u %s", (s >> 12) % 977, (s >> 3) % 7 ? "paid" : "open");
    sqlite3_bind_int(io, 1, i);
    sqlite3_bind_int(io, 2, (int)((s >> 8) % 20000) + 1);
    sqlite3_bind_int(io, 3, (int)((s >> 16) % 10000));
    sqlite3_bind_text(io, 4, buf, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(io) != SQLITE_DONE) die("insert order");
    sqlite3_reset(io);
  }
  exec("COMMIT");
  sqlite3_finalize(ic);
  sqlite3_finalize(io);
  query("group", "SELECT region, count(*), sum(amount), max(amount) FROM orders JOIN customer "
                 "ON customer.id = orders.customer GROUP BY region ORDER BY region");
  exec("CREATE INDEX orders_customer ON orders(customer)");
  query("join", "SELECT c.name, sum(o.amount) AS total FROM customer c JOIN orders o ON o.customer = c.id "
                "WHERE c.region < 10 GROUP BY c.id ORDER BY total DESC, c.name LIMIT 500");
  query("like", "SELECT count(*), sum(amount) FROM orders WHERE note LIKE '%9 open'");
  query("sort", "SELECT id, amount, note FROM orders ORDER BY note, amount DESC, id LIMIT 2000 OFFSET 50000");
  exec("UPDATE orders SET amount = amount + 1 WHERE note LIKE '%paid' AND amount % 3 = 0");
  exec("DELETE FROM orders WHERE amount % 11 = 0");
  query("sub", "SELECT region, count(*) FROM customer WHERE id IN (SELECT customer FROM orders WHERE amount > 9000) "
               "GROUP BY region ORDER BY 2 DESC, 1");
  query("after", "SELECT count(*), sum(amount), total(length(note)) FROM orders");
  for (int r = 0; r < 30; r++) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*), sum(o.amount) FROM orders o JOIN customer c ON c.id = o.customer "
                              "WHERE c.region = %d AND o.amount > %d", r, r * 300);
    query("point", sql);
  }
  sqlite3_close(db);
  return 0;
}
