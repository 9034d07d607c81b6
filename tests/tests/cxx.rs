//! C++ exceptions end to end (issue 11): the programs in `tests/cxx/`,
//! built by Emscripten with `-fwasm-exceptions` (the legacy `try`/`catch`
//! form, `NAME.wasm`) and rewritten by binaryen 132 into the new form
//! (`try_table`/`exnref`, `NAME-exnref.wasm`), run through the command
//! line both ways (`wasmo run`, and `wasmoc build` then `wasmo exec`).
//!
//! - `exceptions.cc` throws and catches across 50-60 frames, several
//!   exception types, a rethrow, `std::exception_ptr`, `catch (...)`, a
//!   throw from a handler, a throwing `new[]` element constructor and
//!   virtual calls, printing its destructors in order: stdout and exit
//!   status must be the native build's (`exceptions.stdout`, written by
//!   `build.sh` from `g++ -O2`; rebuilt here with g++ when it is present).
//! - `uncaught.cc` lets an exception escape `main`: goldens
//!   `uncaught.{stdout,stderr,status}` (`BLESS=1` rewrites them).
//!
//! CI has neither Emscripten nor binaryen 132, so the `.wasm` files are
//! checked in; `sources.blake3` holds the hashes of the sources they were
//! built from, so a source edited without `tests/cxx/build.sh` fails here.
//!
//! Rule: both encodings and both command-line paths give the same
//! output; nothing here compares against a file this test wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wasmo_tests::bin_path;

/// The two encodings: the file-name suffix and what it must contain.
const ENCODINGS: [(&str, Encoding); 2] = [("", Encoding::Legacy), ("-exnref", Encoding::New)];

/// The programs, each with its wasm builds.
const PROGRAMS: [&str; 2] = ["exceptions", "uncaught"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    Legacy,
    New,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Run,
    Exec,
}

fn cxx_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cxx")
}

fn read(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

fn bin(name: &str) -> PathBuf {
    match bin_path(name) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn output(cmd: &mut Command) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

/// Runs `wasm` (a WASI command) under `mode`, with a fresh compile cache.
fn run_wasm(wasm: &Path, mode: Mode) -> Output {
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => panic!("tempdir: {e}"),
    };
    match mode {
        Mode::Run => output(
            Command::new(bin("wasmo"))
                .arg("run")
                .arg("--cache-dir")
                .arg(tmp.path().join("cache"))
                .arg(wasm),
        ),
        Mode::Exec => {
            let artifact = tmp.path().join("app.wasmo");
            let built = output(
                Command::new(bin("wasmoc"))
                    .arg("build")
                    .arg(wasm)
                    .arg("-o")
                    .arg(&artifact),
            );
            assert!(
                built.status.success(),
                "wasmoc build {}: {}",
                wasm.display(),
                String::from_utf8_lossy(&built.stderr)
            );
            output(Command::new(bin("wasmo")).arg("exec").arg(&artifact))
        }
    }
}

fn each_build(program: &str, mut check: impl FnMut(&str, Output)) {
    for (suffix, _) in ENCODINGS {
        let wasm = cxx_dir().join(format!("{program}{suffix}.wasm"));
        for mode in [Mode::Run, Mode::Exec] {
            let what = format!("{} under {mode:?}", wasm.display());
            check(&what, run_wasm(&wasm, mode));
        }
    }
}

#[test]
fn issue11_cxx_exceptions_match_the_native_build() {
    let expected = read(&cxx_dir().join("exceptions.stdout"));
    assert!(expected.ends_with("done, live guards 0\n"), "{expected}");
    each_build("exceptions", |what, out| {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{what}: stderr:\n{stderr}");
        assert_eq!(stdout, expected, "{what}: stdout differs from native");
        assert_eq!(stderr, "", "{what}: stderr");
    });
}

#[test]
fn issue11_cxx_uncaught_exception_is_reported_and_exits_134() {
    let dir = cxx_dir();
    let bless = std::env::var_os("BLESS").is_some();
    each_build("uncaught", |what, out| {
        let got = [
            ("stdout", String::from_utf8_lossy(&out.stdout).into_owned()),
            ("stderr", String::from_utf8_lossy(&out.stderr).into_owned()),
            ("status", status_text(&out)),
        ];
        for (ext, actual) in got {
            let path = dir.join(format!("uncaught.{ext}"));
            if bless {
                if let Err(e) = std::fs::write(&path, &actual) {
                    panic!("cannot write {}: {e}", path.display());
                }
            } else {
                assert_eq!(actual, read(&path), "{what}: {}", path.display());
            }
        }
    });
    // What the goldens must say whatever was blessed.
    assert_eq!(read(&dir.join("uncaught.status")), "134\n");
    assert!(read(&dir.join("uncaught.stderr")).starts_with("error: uncaught wasm exception"));
    assert!(read(&dir.join("uncaught.stdout")).starts_with("before the throw\n"));
}

fn status_text(out: &Output) -> String {
    match out.status.code() {
        Some(c) => format!("{c}\n"),
        None => format!("{}\n", out.status),
    }
}

/// The native build, when g++ is present (CI has it): `exceptions.stdout`
/// is its output, and an uncaught exception aborts it (status 134 in a
/// shell, the status `wasmo` exits with).
#[test]
fn issue11_cxx_native_build_gives_the_expected_output() {
    use std::os::unix::process::ExitStatusExt;
    if Command::new("g++").arg("--version").output().is_err() {
        eprintln!("g++ not found: the native side is checked only by build.sh");
        return;
    }
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => panic!("tempdir: {e}"),
    };
    for program in PROGRAMS {
        let exe = tmp.path().join(program);
        let built = output(
            Command::new("g++")
                .arg("-O2")
                .arg(cxx_dir().join(format!("{program}.cc")))
                .arg("-o")
                .arg(&exe),
        );
        assert!(
            built.status.success(),
            "g++ {program}.cc: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let out = output(&mut Command::new(&exe));
        let stdout = String::from_utf8_lossy(&out.stdout);
        if program == "exceptions" {
            assert_eq!(out.status.code(), Some(0));
            assert_eq!(stdout, read(&cxx_dir().join("exceptions.stdout")));
        } else {
            // SIGABRT from std::terminate; what was printed before the
            // throw is what the wasm build printed first.
            assert_eq!(out.status.signal(), Some(6), "{:?}", out.status);
            assert_eq!(stdout, "before the throw\n");
        }
    }
}

/// The checked-in builds are of today's sources (`build.sh` blesses the
/// hashes after it rebuilds them).
#[test]
fn issue11_cxx_wasm_builds_are_of_the_current_sources() {
    let dir = cxx_dir();
    let mut actual = String::new();
    for program in PROGRAMS {
        let src = dir.join(format!("{program}.cc"));
        let bytes = match std::fs::read(&src) {
            Ok(b) => b,
            Err(e) => panic!("cannot read {}: {e}", src.display()),
        };
        actual += &format!("{}  {program}.cc\n", blake3::hash(&bytes).to_hex());
    }
    let stamp = dir.join("sources.blake3");
    if std::env::var_os("BLESS").is_some() {
        if let Err(e) = std::fs::write(&stamp, &actual) {
            panic!("cannot write {}: {e}", stamp.display());
        }
    }
    assert_eq!(
        read(&stamp),
        actual,
        "tests/cxx: a source changed since its wasm was built; run tests/cxx/build.sh"
    );
}

/// Each file holds the encoding its name says: the legacy one `try` and
/// no `try_table`, the new one `try_table` and none of the legacy
/// instructions.
#[test]
fn issue11_cxx_builds_are_in_the_encoding_their_names_say() {
    for program in PROGRAMS {
        for (suffix, encoding) in ENCODINGS {
            let path = cxx_dir().join(format!("{program}{suffix}.wasm"));
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => panic!("cannot read {}: {e}", path.display()),
            };
            let (legacy, new) = count_exception_ops(&bytes);
            match encoding {
                Encoding::Legacy => assert!(legacy > 0 && new == 0, "{}", path.display()),
                Encoding::New => assert!(legacy == 0 && new > 0, "{}", path.display()),
            }
        }
    }
}

/// (legacy `try`/`catch`/`rethrow`/`delegate`, new `try_table`/`throw_ref`)
/// operators in the module's code.
fn count_exception_ops(wasm: &[u8]) -> (usize, usize) {
    use wasmparser::{Operator, Parser, Payload};
    let (mut legacy, mut new) = (0, 0);
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(Payload::CodeSectionEntry(body)) = payload else {
            continue;
        };
        let Ok(mut ops) = body.get_operators_reader() else {
            panic!("unreadable function body");
        };
        while !ops.eof() {
            match ops.read() {
                Ok(
                    Operator::Try { .. }
                    | Operator::Catch { .. }
                    | Operator::CatchAll
                    | Operator::Rethrow { .. }
                    | Operator::Delegate { .. },
                ) => legacy += 1,
                Ok(Operator::TryTable { .. } | Operator::ThrowRef) => new += 1,
                Ok(_) => {}
                Err(e) => panic!("unreadable operator: {e}"),
            }
        }
    }
    (legacy, new)
}
