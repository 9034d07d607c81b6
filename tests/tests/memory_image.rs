//! Memory initialisation images through real compiled modules: the
//! compiler moves memory 0's active data segments into the artifact's data
//! image, the loader maps it copy-on-write into each instance's memory.
//! Covered: the data is there after instantiation; the pages really are the
//! artifact's, mapped privately; instances of one module never see each
//! other's writes; writes survive `memory.grow`, and accesses past the
//! memory still trap; segments that may trap (non-constant offsets, past
//! the initial size, an imported memory) are still copied at instantiation
//! and fail exactly as before; and crafted artifacts whose image would land
//! outside its memory are refused at load time.
//!
//! Rule: every expectation names the exact outcome (trap code, bytes, load
//! error section); "it failed somehow" is not a pass.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use wasmo_artifact_format::metadata::{Export, ExternKind, MemoryImage, ModuleMetadata};
use wasmo_artifact_format::{
    ArtifactBuilder, BoundsChecks, BuildFacts, Header, Limits, MemoryIndex, MemoryType, VMOffsets,
};
use wasmo_compiler::CompileConfig;
use wasmo_loader::{
    CallError, Extern, Global, GlobalType, Imports, Instance, InstantiationError, LoadError,
    Memory, Module, Store, TrapCode, Val, ValType,
};
use wasmo_tests::wat;

/// A loaded module, the artifact's header and where the artifact lives.
struct Compiled {
    module: Module,
    header: Header,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Err(e) = std::fs::write(&path, bytes) {
        panic!("writing {}: {e}", path.display());
    }
    path
}

fn compile(text: &str, bounds_checks: BoundsChecks) -> Vec<u8> {
    let config = CompileConfig {
        bounds_checks,
        ..CompileConfig::default()
    };
    match wasmo_compiler::compile(&wat(text), &config) {
        Ok(a) => a,
        Err(e) => panic!("compile failed: {e}"),
    }
}

fn load(text: &str, bounds_checks: BoundsChecks) -> Compiled {
    let bytes = compile(text, bounds_checks);
    let header = match Header::decode(&bytes) {
        Ok(h) => h,
        Err(e) => panic!("header: {e}"),
    };
    let dir = tempdir();
    let path = write(dir.path(), "module.wasmo", &bytes);
    match Module::from_file(&path) {
        Ok(module) => Compiled {
            module,
            header,
            path,
            _dir: dir,
        },
        Err(e) => panic!("loading the artifact: {e}"),
    }
}

thread_local! {
    /// This thread's store (libtest runs each test on a thread of its own).
    static STORE: RefCell<Store<()>> = RefCell::new(Store::new(()));
}

/// Runs `f` with this thread's store.
fn with_store<R>(f: impl FnOnce(&mut Store<()>) -> R) -> R {
    STORE.with(|s| f(&mut s.borrow_mut()))
}

fn instantiate(module: &Module, imports: &Imports) -> Instance {
    match with_store(|s| Instance::new(s, module, imports)) {
        Ok(i) => i,
        Err(e) => panic!("instantiation failed: {e}"),
    }
}

fn memory(instance: &Instance) -> Memory {
    match with_store(|s| instance.get_memory(&*s, "memory")) {
        Some(m) => m,
        None => panic!("no exported memory"),
    }
}

fn read(mem: &Memory, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    if let Err(e) = with_store(|s| mem.read(&*s, offset, &mut buf)) {
        panic!("reading {len} bytes at {offset}: {e}");
    }
    buf
}

fn call(instance: &Instance, name: &str, args: &[Val]) -> Result<Vec<Val>, CallError> {
    with_store(|s| match instance.get_func(&*s, name) {
        Some(f) => wasmo_tests::call(s, f, args),
        None => panic!("no export `{name}`"),
    })
}

fn call_i32(instance: &Instance, name: &str, args: &[Val]) -> i32 {
    match call(instance, name, args) {
        Ok(v) => match v.as_slice() {
            [Val::I32(x)] => *x,
            other => panic!("`{name}` returned {other:?}"),
        },
        Err(e) => panic!("`{name}` failed: {e}"),
    }
}

fn expect_trap(instance: &Instance, name: &str, args: &[Val], code: TrapCode) {
    match call(instance, name, args) {
        Err(CallError::Trap(t)) => assert_eq!(t.code, code, "`{name}` trapped with the wrong code"),
        Err(e) => panic!("`{name}` failed without a trap: {e}"),
        Ok(v) => panic!("`{name}` returned {v:?} instead of trapping"),
    }
}

fn expect_instantiation_trap(module: &Module, imports: &Imports, code: TrapCode) {
    match with_store(|s| Instance::new(s, module, imports)) {
        Err(InstantiationError::Trap(t)) => assert_eq!(t.code, code),
        Err(e) => panic!("instantiation failed without a trap: {e}"),
        Ok(_) => panic!("instantiation succeeded; expected a {code:?} trap"),
    }
}

/// Two pages; data at both ends of the first page and in the second, and
/// 40000 bytes of `f` from 1000 on, so the image (0 to 73728) is dense
/// enough to be made.
fn data_module() -> String {
    format!(
        r#"(module
  (memory (export "memory") 2 5)
  (data (i32.const 0) "start")
  (data (i32.const 1000) "{}")
  (data (i32.const 65530) "edge!!")
  (data (i32.const 70000) "second page")
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size)))"#,
        "f".repeat(40000)
    )
}

const STRATEGIES: [BoundsChecks; 2] = [BoundsChecks::GuardPages, BoundsChecks::Explicit];

fn check_initial_data(instance: &Instance) {
    let mem = memory(instance);
    assert_eq!(read(&mem, 0, 5), b"start");
    assert_eq!(read(&mem, 65530, 6), b"edge!!");
    assert_eq!(read(&mem, 70000, 11), b"second page");
    assert_eq!(read(&mem, 5, 3), [0, 0, 0]);
    assert_eq!(read(&mem, 999, 3), [0, b'f', b'f']);
    assert_eq!(read(&mem, 40998, 3), [b'f', b'f', 0]);
    assert_eq!(read(&mem, 131072 - 4, 4), [0; 4]);
    assert_eq!(
        call_i32(instance, "load8", &[Val::I32(70000)]),
        i32::from(b's')
    );
}

#[test]
fn data_is_visible_after_instantiation() {
    for strategy in STRATEGIES {
        let c = load(&data_module(), strategy);
        // The segments went into an image: from 0 up to the page after
        // "second page" ends.
        assert_eq!(c.header.data_image.len, 73728, "{strategy:?}");
        check_initial_data(&instantiate(&c.module, &Imports::new()));
    }
}

/// The `/proc/self/maps` lines naming `path` (with its permissions).
fn mappings_of(path: &Path) -> Vec<String> {
    let name = path.to_string_lossy().into_owned();
    proc_maps()
        .lines()
        .filter(|l| l.ends_with(name.as_str()))
        .map(str::to_owned)
        .collect()
}

/// The `/proc/self/maps` lines of the loader's in-memory snapshot of the
/// artifact at `path` (a memfd named after it).
fn snapshot_mappings_of(path: &Path) -> Vec<String> {
    let name = format!("/memfd:wasmo:{} (deleted)", path.to_string_lossy());
    proc_maps()
        .lines()
        .filter(|l| l.ends_with(name.as_str()))
        .map(str::to_owned)
        .collect()
}

fn proc_maps() -> String {
    match std::fs::read_to_string("/proc/self/maps") {
        Ok(m) => m,
        Err(e) => panic!("/proc/self/maps: {e}"),
    }
}

/// The image is mapped privately from the loader's snapshot of the
/// artifact (never from the artifact file itself, which issue 9 defect 14
/// showed can be rewritten in place under a running module).
#[test]
fn the_image_is_mapped_privately_from_the_artifact() {
    let c = load(&data_module(), BoundsChecks::GuardPages);
    let writable = |maps: &[String]| maps.iter().filter(|l| l.contains(" rw-p ")).count();
    assert_eq!(writable(&snapshot_mappings_of(&c.path)), 0);
    let _a = instantiate(&c.module, &Imports::new());
    let _b = instantiate(&c.module, &Imports::new());
    // One private read-write mapping of the snapshot per instance.
    assert_eq!(writable(&snapshot_mappings_of(&c.path)), 2);
    assert_eq!(mappings_of(&c.path), Vec::<String>::new());
    // Instances live as long as their store: dropping it unmaps them.
    with_store(|s| *s = Store::new(()));
    assert_eq!(writable(&snapshot_mappings_of(&c.path)), 0);
}

#[test]
fn instances_do_not_see_each_others_writes() {
    for strategy in STRATEGIES {
        let c = load(&data_module(), strategy);
        let a = instantiate(&c.module, &Imports::new());
        let b = instantiate(&c.module, &Imports::new());
        // Through compiled code in `a`, through the host API in `b`.
        let _ = call(&a, "store8", &[Val::I32(0), Val::I32(i32::from(b'S'))]);
        let _ = call(&a, "store8", &[Val::I32(70000), Val::I32(i32::from(b'X'))]);
        let mem_b = memory(&b);
        if let Err(e) = with_store(|s| mem_b.write(s, 65530, b"EDGE")) {
            panic!("host write: {e}");
        }
        assert_eq!(read(&memory(&a), 0, 5), b"Start");
        assert_eq!(read(&memory(&a), 65530, 6), b"edge!!");
        assert_eq!(read(&memory(&a), 70000, 11), b"Xecond page");
        assert_eq!(read(&memory(&b), 0, 5), b"start");
        assert_eq!(read(&memory(&b), 65530, 6), b"EDGE!!");
        assert_eq!(call_i32(&b, "load8", &[Val::I32(70000)]), i32::from(b's'));
        // A later instance starts from the artifact, not from either.
        let fresh = instantiate(&c.module, &Imports::new());
        check_initial_data(&fresh);
        // And the file itself was never written.
        let on_disk = match std::fs::read(&c.path) {
            Ok(b) => b,
            Err(e) => panic!("reading the artifact back: {e}"),
        };
        let img = c.header.data_image;
        let image = &on_disk[img.offset as usize..(img.offset + img.len) as usize];
        assert_eq!(&image[..5], b"start");
        assert_eq!(&image[70000..70011], b"second page");
    }
}

#[test]
fn writes_survive_memory_grow_and_bounds_still_trap() {
    for strategy in STRATEGIES {
        let c = load(&data_module(), strategy);
        let inst = instantiate(&c.module, &Imports::new());
        let _ = call(&inst, "store8", &[Val::I32(1), Val::I32(i32::from(b'T'))]);
        // Just past the initial two pages: out of bounds before the grow.
        expect_trap(
            &inst,
            "load8",
            &[Val::I32(131072)],
            TrapCode::MemoryOutOfBounds,
        );
        assert_eq!(call_i32(&inst, "grow", &[Val::I32(2)]), 2);
        assert_eq!(call_i32(&inst, "size", &[]), 4);
        let mem = memory(&inst);
        assert_eq!(read(&mem, 0, 5), b"sTart");
        assert_eq!(read(&mem, 70000, 11), b"second page");
        // The new pages are zero and writable; the first byte past them is
        // still out of bounds.
        assert_eq!(call_i32(&inst, "load8", &[Val::I32(131072)]), 0);
        let _ = call(&inst, "store8", &[Val::I32(262143), Val::I32(7)]);
        assert_eq!(call_i32(&inst, "load8", &[Val::I32(262143)]), 7);
        expect_trap(
            &inst,
            "load8",
            &[Val::I32(262144)],
            TrapCode::MemoryOutOfBounds,
        );
        // Past the declared maximum of 5 pages.
        assert_eq!(call_i32(&inst, "grow", &[Val::I32(2)]), -1);
        assert_eq!(read(&mem, 0, 5), b"sTart");
    }
}

fn global_imports(value: i32) -> Imports {
    let ty = GlobalType {
        content: ValType::I32,
        mutable: false,
    };
    let g = match with_store(|s| Global::new(s, ty, Val::I32(value))) {
        Ok(g) => g,
        Err(e) => panic!("global: {e}"),
    };
    let mut imports = Imports::new();
    imports.define("env", "offset", Extern::Global(g));
    imports
}

#[test]
fn non_constant_offsets_are_still_copied_and_checked() {
    let text = r#"(module
      (import "env" "offset" (global $off i32))
      (memory (export "memory") 1)
      (data (i32.const 0) "const")
      (data (global.get $off) "from a global"))"#;
    for strategy in STRATEGIES {
        let c = load(text, strategy);
        assert_eq!(c.header.data_image.len, 0, "{strategy:?}");
        let inst = instantiate(&c.module, &global_imports(100));
        assert_eq!(read(&memory(&inst), 0, 5), b"const");
        assert_eq!(read(&memory(&inst), 100, 13), b"from a global");
        // Past the end: instantiation traps, as before images existed.
        expect_instantiation_trap(
            &c.module,
            &global_imports(65536 - 12),
            TrapCode::MemoryOutOfBounds,
        );
    }
}

#[test]
fn segments_past_the_initial_size_still_trap() {
    // In bounds of the maximum but not of the initial size.
    let text = r#"(module
      (memory (export "memory") 1 4)
      (data (i32.const 0) "fine")
      (data (i32.const 65534) "abc"))"#;
    for strategy in STRATEGIES {
        let c = load(text, strategy);
        assert_eq!(c.header.data_image.len, 0, "{strategy:?}");
        expect_instantiation_trap(&c.module, &Imports::new(), TrapCode::MemoryOutOfBounds);
    }
}

#[test]
fn imported_memories_get_their_segments_copied() {
    let text = r#"(module
      (import "env" "memory" (memory 1))
      (data (i32.const 16) "into the host's memory"))"#;
    let c = load(text, BoundsChecks::GuardPages);
    assert_eq!(c.header.data_image.len, 0);
    let ty = MemoryType {
        limits: Limits { min: 1, max: None },
        memory64: false,
        shared: false,
    };
    let mem = match with_store(|s| Memory::new(s, ty)) {
        Ok(m) => m,
        Err(e) => panic!("memory: {e}"),
    };
    let mut imports = Imports::new();
    imports.define("env", "memory", Extern::Memory(mem));
    let _inst = instantiate(&c.module, &imports);
    assert_eq!(read(&mem, 16, 22), b"into the host's memory");
}

/// An artifact for this host with one memory of `min` pages, no code, the
/// given memory image in its metadata and `data` as its data image.
fn crafted(template: &Header, min: u64, image: Option<MemoryImage>, data: &[u8]) -> Vec<u8> {
    let mut metadata = ModuleMetadata {
        memories: vec![MemoryType {
            limits: Limits { min, max: None },
            memory64: false,
            shared: false,
        }],
        memory_image: image,
        exports: vec![Export {
            name: "memory".into(),
            kind: ExternKind::Memory,
            index: 0,
        }],
        ..Default::default()
    };
    metadata.vmctx_size = VMOffsets::new(metadata.vm_counts()).size();
    metadata.vm_counts = metadata.vm_counts();
    let builder = ArtifactBuilder {
        facts: BuildFacts {
            compat: template.compat_facts(),
            cpu_name: template.cpu_name.clone(),
            opt_level: template.opt_level,
            source_hash: template.source_hash,
        },
        metadata,
        text: Vec::new(),
        rodata: Vec::new(),
        relro: Vec::new(),
    };
    match builder.build_with_data_image(data) {
        Ok(b) => b,
        Err(e) => panic!("building: {e}"),
    }
}

#[test]
fn images_outside_their_memory_are_refused() {
    let template = load(&data_module(), BoundsChecks::GuardPages).header;
    let dir = tempdir();
    let page = vec![0x5a; 4096];
    let image = |wasm_offset: u64, len: u64| {
        Some(MemoryImage {
            memory: MemoryIndex(0),
            wasm_offset,
            len,
        })
    };
    // A well-formed one loads, instantiates and shows its bytes.
    let good = crafted(&template, 1, image(61440, 4096), &page);
    let path = write(dir.path(), "good.wasmo", &good);
    match Module::from_file(&path) {
        Ok(m) => {
            let mem = memory(&instantiate(&m, &Imports::new()));
            assert_eq!(read(&mem, 61440 - 1, 2), [0, 0x5a]);
            assert_eq!(read(&mem, 65535, 1), [0x5a]);
        }
        Err(e) => panic!("a well-formed image was refused: {e}"),
    }
    let cases = [
        (
            "past the initial size",
            crafted(&template, 1, image(65536, 4096), &page),
        ),
        (
            "straddling the end",
            crafted(&template, 1, image(61440, 8192), &[0; 8192]),
        ),
        ("unaligned", crafted(&template, 1, image(100, 4096), &page)),
        (
            "overflowing",
            crafted(&template, 1, image(u64::MAX - 4095, 4096), &page),
        ),
        (
            "length mismatch",
            crafted(&template, 1, image(0, 4096), &[0; 8192]),
        ),
        (
            "no image in the file",
            crafted(&template, 1, image(0, 4096), &[]),
        ),
        ("an image for no memory", crafted(&template, 1, None, &page)),
        (
            "a memory that does not exist",
            crafted(
                &template,
                1,
                Some(MemoryImage {
                    memory: MemoryIndex(1),
                    wasm_offset: 0,
                    len: 4096,
                }),
                &page,
            ),
        ),
    ];
    for (what, bytes) in cases {
        let path = write(dir.path(), "bad.wasmo", &bytes);
        match Module::from_file(&path) {
            Err(LoadError::Invalid { section, .. }) => assert_eq!(section, "data image", "{what}"),
            Err(e) => panic!("{what}: refused for the wrong reason: {e}"),
            Ok(_) => panic!("{what}: loaded"),
        }
    }
}

/// Issue 9, defect 14: an artifact overwritten in place (not replaced by
/// renaming) while a module is loaded from it: truncated, then rewritten
/// with other bytes. The loaded module's code and data image are its own
/// snapshot, so running instances, new instances and calls are unaffected
/// (they used to die of SIGBUS or SIGSEGV).
#[test]
fn issue9_artifact_overwritten_in_place_keeps_running() {
    use std::io::Write;
    for strategy in STRATEGIES {
        let c = load(&data_module(), strategy);
        let before = instantiate(&c.module, &Imports::new());
        let len = match std::fs::metadata(&c.path) {
            Ok(m) => m.len() as usize,
            Err(e) => panic!("stat: {e}"),
        };
        let mut f = match std::fs::OpenOptions::new().write(true).open(&c.path) {
            Ok(f) => f,
            Err(e) => panic!("opening the artifact for writing: {e}"),
        };
        if let Err(e) = f.set_len(0) {
            panic!("truncating: {e}");
        }
        if let Err(e) = f
            .write_all(&vec![0xcc; len / 2])
            .and_then(|()| f.sync_all())
        {
            panic!("rewriting: {e}");
        }
        drop(f);
        check_initial_data(&before);
        let after = instantiate(&c.module, &Imports::new());
        check_initial_data(&after);
        assert_eq!(call_i32(&after, "size", &[]), 2);
    }
}
