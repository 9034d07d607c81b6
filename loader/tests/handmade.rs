//! Loader tests with artifacts built by hand (`ArtifactBuilder` plus a few
//! bytes of x86-64), so the loader is tested without the compiler: the
//! load-time checks, calls, host imports, traps from the helper, memory
//! faults, stack overflow and concurrent traps.
//!
//! Rule: the hand-written "functions" here obey the array-call ABI (or,
//! for the import trampoline, the wasm-to-array one) in artifact-format's
//! `vmctx.rs`; each function's array-call trampoline is a `jmp` to its
//! code, so that the function map tiles the text as the loader requires.
//! Keep the byte offsets in step with the layout comments and `FUNCS_AT`.

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmo_artifact_format::metadata::{
    CodeSpan, ConstExpr, ConstOp, DataMode, DataSegment, DefinedFunc, Export, ExternKind, Import,
    ImportKind, ModuleMetadata, Names, RelocKind, RelocTarget, Relocation, TrapTable,
};
use wasmo_artifact_format::{
    ArtifactBuilder, BoundsChecks, BuildFacts, CompatFacts, CpuFeatures, FormatError, FuncIndex,
    TypeIndex, VMOffsets, WasmFeatures, X86Feature,
};
use wasmo_loader::{
    CallError, Extern, Func, FuncType, HostError, Imports, Instance, Limits, LoadError, MemoryType,
    Module, Store, TrapCode, Val, ValType,
};

const GOT: u32 = 4096;

fn facts(triple: &str) -> BuildFacts {
    BuildFacts {
        compat: CompatFacts {
            target_triple: triple.into(),
            cpu_features: CpuFeatures::EMPTY,
            bounds_checks: BoundsChecks::GuardPages,
            memory_reservation: 4 << 30,
            guard_size: 4 << 30,
            wasm_features: WasmFeatures(WasmFeatures::MVP),
            page_align: 4096,
            instrumentation: wasmo_artifact_format::Instrumentation::NONE,
        },
        cpu_name: "x86-64-v2".into(),
        opt_level: 2,
        source_hash: [0; 32],
    }
}

/// `(offset, bytes)` of each hand-written function; see `builder`.
fn text() -> Vec<u8> {
    let mut t = vec![0xcc; 256 + 16 * FUNCS];
    let mut put = |at: usize, bytes: &[u8]| t[at..at + bytes.len()].copy_from_slice(bytes);
    // @0 answer: mov dword [rdx], 42; ret
    put(0, &[0xc7, 0x02, 0x2a, 0, 0, 0, 0xc3]);
    // @16 boom: push rbp; mov rbp, rsp; mov esi, 8; call [rip + GOT]; ud2
    // (the helper takes no code: the trap table maps the return address,
    // 31, to `unreachable`; the `mov esi` is a leftover that does no harm)
    let disp = (GOT as i32 - 31).to_le_bytes();
    put(
        16,
        &[
            0x55, 0x48, 0x89, 0xe5, 0xbe, 8, 0, 0, 0, 0xff, 0x15, disp[0], disp[1], disp[2],
            disp[3], 0x0f, 0x0b,
        ],
    );
    // @48 load0: mov rax, [rdi]; mov eax, [rax]; mov [rdx], eax; ret
    put(48, &[0x48, 0x8b, 0x07, 0x8b, 0x00, 0x89, 0x02, 0xc3]);
    // @64 oob: mov rax, [rdi]; mov eax, [rax + 0x10000]; mov [rdx], eax; ret
    put(
        64,
        &[0x48, 0x8b, 0x07, 0x8b, 0x80, 0, 0, 1, 0, 0x89, 0x02, 0xc3],
    );
    // @80 recurse: push rbp; mov rbp, rsp; call 80
    put(80, &[0x55, 0x48, 0x89, 0xe5, 0xe8, 0xf7, 0xff, 0xff, 0xff]);
    // @96 call_import: calls import 0 with values[0], stores its result.
    put(
        96,
        &[
            0x55, 0x48, 0x89, 0xe5, // push rbp; mov rbp, rsp
            0x53, 0x48, 0x83, 0xec, 0x08, // push rbx; sub rsp, 8
            0x48, 0x89, 0xd3, // mov rbx, rdx
            0x48, 0x89, 0xfe, // mov rsi, rdi
            0x8b, 0x13, // mov edx, [rbx]
            // VMOffsets::imported_func(0): 48 since layout vmctx-4.
            0x48, 0x8b, 0x47, 0x30, // mov rax, [rdi + 48]
            0x48, 0x8b, 0x7f, 0x38, // mov rdi, [rdi + 56]
            0xff, 0xd0, // call rax
            0x89, 0x03, // mov [rbx], eax
            0x48, 0x83, 0xc4, 0x08, 0x5b, // add rsp, 8; pop rbx
            0x5d, 0xc3, // pop rbp; ret
        ],
    );
    // @144 wasm-to-array trampoline for (i32) -> i32.
    put(
        144,
        &[
            0x55, 0x48, 0x89, 0xe5, // push rbp; mov rbp, rsp
            0x48, 0x83, 0xec, 0x10, // sub rsp, 16
            0x89, 0x14, 0x24, // mov [rsp], edx
            0x48, 0x89, 0xe2, // mov rdx, rsp
            0xb9, 1, 0, 0, 0, // mov ecx, 1
            0xff, 0x17, // call [rdi]
            0x8b, 0x04, 0x24, // mov eax, [rsp]
            0xc9, 0xc3, // leave; ret
        ],
    );
    // @208 wild: xor eax, eax; mov [rax], eax; ret (a fault outside any memory)
    put(208, &[0x31, 0xc0, 0x89, 0x00, 0xc3]);
    // @224 int3: nop; int3 (SIGTRAP inside wasm text)
    put(224, &[0x90, 0xcc]);
    // @240 null_call: xor eax, eax; call rax; ret (a call to address 0, as
    // through a GOT slot no relocation filled)
    put(240, &[0x31, 0xc0, 0xff, 0xd0, 0xc3]);
    // @256 + 16 * i: defined function i's array-call trampoline, which
    // the host calls: jmp to the function's code above.
    for (i, &(at, _)) in FUNCS_AT.iter().enumerate() {
        let tramp = 256 + 16 * i as u32;
        let rel = (at as i32 - (tramp as i32 + 5)).to_le_bytes();
        put(tramp as usize, &[0xe9, rel[0], rel[1], rel[2], rel[3]]);
    }
    t
}

/// (text offset, length) of each defined function's code in `text`.
const FUNCS_AT: [(u32, u32); 9] = [
    (0, 7),
    (16, 17),
    (48, 8),
    (64, 12),
    (80, 9),
    (96, 36),
    (208, 5),
    (224, 2),
    (240, 5),
];
const FUNCS: usize = FUNCS_AT.len();

fn builder(triple: &str) -> ArtifactBuilder {
    let t0 = FuncType {
        params: vec![],
        results: vec![ValType::I32],
    };
    let t1 = FuncType {
        params: vec![ValType::I32],
        results: vec![ValType::I32],
    };
    let f = |i: usize, (offset, len): (u32, u32)| DefinedFunc {
        offset,
        len,
        array_trampoline: Some(CodeSpan {
            offset: 256 + 16 * i as u32,
            len: 5,
        }),
    };
    let export = |name: &str, index: u32| Export {
        name: name.into(),
        kind: ExternKind::Func,
        index,
    };
    let mut metadata = ModuleMetadata {
        types: vec![t0, t1],
        imports: vec![Import {
            module: "env".into(),
            name: "f".into(),
            kind: ImportKind::Func(TypeIndex(1)),
        }],
        funcs: [1, 0, 0, 0, 0, 0, 1, 0, 0, 0]
            .into_iter()
            .map(TypeIndex)
            .collect(),
        defined_funcs: FUNCS_AT
            .into_iter()
            .enumerate()
            .map(|(i, at)| f(i, at))
            .collect(),
        import_trampolines: vec![CodeSpan {
            offset: 144,
            len: 26,
        }],
        memories: vec![MemoryType {
            limits: Limits {
                min: 1,
                max: Some(2),
            },
            memory64: false,
            shared: false,
        }],
        exports: vec![
            export("answer", 1),
            export("boom", 2),
            export("load0", 3),
            export("oob", 4),
            export("recurse", 5),
            export("call_import", 6),
            export("wild", 7),
            export("int3", 8),
            export("null_call", 9),
            Export {
                name: "mem".into(),
                kind: ExternKind::Memory,
                index: 0,
            },
        ],
        data: vec![DataSegment {
            mode: DataMode::Active {
                memory: wasmo_artifact_format::MemoryIndex(0),
                offset: ConstExpr {
                    ops: vec![ConstOp::I32Const(0)],
                },
            },
            bytes: vec![42, 0, 0, 0],
        }],
        relocations: vec![Relocation {
            offset: u64::from(GOT),
            kind: RelocKind::Abs64 { addend: 0 },
            target: RelocTarget::Helper(0),
        }],
        trap_sites: TrapTable {
            offsets: vec![31],
            codes: vec![TrapCode::UnreachableCodeReached.as_u8()],
        },
        names: Names {
            module: Some("m".into()),
            funcs: vec![(FuncIndex(2), "boom".into())],
        },
        ..Default::default()
    };
    metadata.vmctx_size = VMOffsets::new(metadata.vm_counts()).size();
    metadata.vm_counts = metadata.vm_counts();
    // `call_import`'s machine code reads import 0's slot at a fixed offset.
    assert_eq!(VMOffsets::new(metadata.vm_counts).imported_func(0), 48);
    // No PLT: the one helper call goes through the GOT directly.
    metadata.plt_offset = text().len() as u32;
    ArtifactBuilder {
        facts: facts(triple),
        metadata,
        text: text(),
        rodata: vec![],
        relro: vec![0; 8],
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn write(bytes: &[u8]) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!(
        "wasmo-loader-test-{}-{n}.wasmo",
        std::process::id()
    ));
    std::fs::write(&p, bytes).unwrap();
    p
}

fn load(bytes: &[u8]) -> Result<Module, LoadError> {
    let p = write(bytes);
    let r = Module::from_file(&p);
    let _ = std::fs::remove_file(&p);
    r
}

fn good() -> Vec<u8> {
    builder(&wasmo_loader::host_triple()).build().unwrap()
}

/// Recomputes the body hash after a deliberate edit.
fn rehash(bytes: &mut [u8]) {
    let mut h = blake3::Hasher::new();
    h.update(&bytes[..48]);
    h.update(&[0; 32]);
    h.update(&bytes[80..]);
    let hash = *h.finalize().as_bytes();
    bytes[48..80].copy_from_slice(&hash);
}

fn imports_with(f: Func) -> Imports {
    let mut imports = Imports::new();
    imports.define("env", "f", Extern::Func(f));
    imports
}

fn double<T: 'static>(store: &mut Store<T>) -> Func {
    let ty = FuncType {
        params: vec![ValType::I32],
        results: vec![ValType::I32],
    };
    Func::new(store, ty, |_, args, results| {
        results[0] = Val::I32(args[0].i32().unwrap_or(0) * 2);
        Ok(())
    })
}

fn instance() -> (Store<()>, Instance) {
    let module = load(&good()).unwrap();
    let mut store = Store::new(());
    let imports = imports_with(double(&mut store));
    let inst = Instance::new(&mut store, &module, &imports).unwrap();
    (store, inst)
}

fn call_i32<T>(
    store: &mut Store<T>,
    inst: &Instance,
    name: &str,
    args: &[Val],
) -> Result<i32, CallError> {
    let mut r = [Val::I32(0)];
    inst.get_func(&*store, name)
        .unwrap()
        .call(store, args, &mut r)?;
    Ok(r[0].i32().unwrap())
}

fn trap_code(r: Result<i32, CallError>) -> TrapCode {
    match r {
        Err(CallError::Trap(t)) => t.code,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn loads_and_runs() {
    let (mut store, inst) = instance();
    assert_eq!(call_i32(&mut store, &inst, "answer", &[]).unwrap(), 42);
    assert_eq!(
        call_i32(&mut store, &inst, "load0", &[]).unwrap(),
        42,
        "data segment applied"
    );
    assert_eq!(
        call_i32(&mut store, &inst, "call_import", &[Val::I32(21)]).unwrap(),
        42
    );
    let exports: Vec<String> = inst
        .module(&store)
        .exports()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(exports.contains(&"mem".to_owned()));
    assert_eq!(inst.module(&store).imports()[0].name, "f");
}

#[test]
fn argument_checks() {
    let (mut store, inst) = instance();
    let f = inst.get_func(&store, "call_import").unwrap();
    assert!(matches!(
        f.call(&mut store, &[], &mut [Val::I32(0)]),
        Err(CallError::ArgumentCount {
            expected: 1,
            got: 0
        })
    ));
    assert!(matches!(
        f.call(&mut store, &[Val::I64(1)], &mut [Val::I32(0)]),
        Err(CallError::ArgumentType { index: 0, .. })
    ));
    assert!(matches!(
        f.call(&mut store, &[Val::I32(1)], &mut []),
        Err(CallError::ResultCount {
            expected: 1,
            got: 0
        })
    ));
    let mut other = Store::new(());
    assert!(matches!(
        f.call(&mut other, &[Val::I32(1)], &mut [Val::I32(0)]),
        Err(CallError::WrongStore("function"))
    ));
}

#[test]
fn helper_trap_is_caught_and_instance_stays_usable() {
    let (mut store, inst) = instance();
    let boom = inst.get_func(&store, "boom").unwrap();
    for _ in 0..3 {
        match boom.call(&mut store, &[], &mut [Val::I32(0)]) {
            Err(CallError::Trap(t)) => {
                assert_eq!(t.code, TrapCode::UnreachableCodeReached);
                assert_eq!(t.to_string(), "wasm trap: unreachable");
                assert_eq!(
                    t.backtrace.first().and_then(|f| f.func_name.as_deref()),
                    Some("boom")
                );
                assert_eq!(t.backtrace[0].func_index, 2);
                assert_eq!(t.backtrace[0].module_name.as_deref(), Some("m"));
            }
            other => panic!("expected a trap, got {other:?}"),
        }
        assert_eq!(call_i32(&mut store, &inst, "answer", &[]).unwrap(), 42);
    }
}

#[test]
fn memory_fault_is_out_of_bounds_until_grown() {
    let (mut store, inst) = instance();
    assert_eq!(
        trap_code(call_i32(&mut store, &inst, "oob", &[])),
        TrapCode::MemoryOutOfBounds
    );
    let mem = inst.get_memory(&store, "mem").unwrap();
    assert_eq!(mem.size(&store), 1);
    assert_eq!(mem.grow(&mut store, 1), Some(1));
    assert_eq!(mem.grow(&mut store, 1), None, "max is 2 pages");
    mem.write(&mut store, 0x10000, &7i32.to_le_bytes()).unwrap();
    assert_eq!(call_i32(&mut store, &inst, "oob", &[]).unwrap(), 7);
    assert!(mem.write(&mut store, 0x20000, &[1]).is_err());
    assert_eq!(mem.data(&store).len(), 0x20000);
    assert_eq!(mem.data(&store)[0x10000], 7);
}

#[test]
fn stack_overflow_is_a_trap() {
    let (mut store, inst) = instance();
    let recurse = inst.get_func(&store, "recurse").unwrap();
    for _ in 0..2 {
        match recurse.call(&mut store, &[], &mut [Val::I32(0)]) {
            Err(CallError::Trap(t)) => {
                assert_eq!(t.code, TrapCode::StackOverflow);
                assert!(!t.backtrace.is_empty());
                assert!(t.backtrace.iter().all(|f| f.func_index == 5));
            }
            other => panic!("expected a trap, got {other:?}"),
        }
    }
    assert_eq!(call_i32(&mut store, &inst, "answer", &[]).unwrap(), 42);
}

#[test]
fn host_errors_unwind_wasm() {
    let module = load(&good()).unwrap();
    let mut store = Store::new(0u32);
    let ty = FuncType {
        params: vec![ValType::I32],
        results: vec![ValType::I32],
    };
    let f = Func::new(&mut store, ty, |mut caller, args, _| {
        let mem = caller.memory().unwrap();
        assert_eq!(mem.data(&caller)[0], 42);
        *caller.data_mut() += 1;
        match args[0].i32() {
            Some(0) => Err(HostError::Trap(TrapCode::IntegerDivisionByZero)),
            Some(1) => Err(HostError::Exit(3)),
            Some(2) => Err(HostError::Message("no".into())),
            _ => panic!("host bug"),
        }
    });
    let inst = Instance::new(&mut store, &module, &imports_with(f)).unwrap();
    let call_import = inst.get_func(&store, "call_import").unwrap();
    let mut call = |a| call_import.call(&mut store, &[Val::I32(a)], &mut [Val::I32(0)]);
    match call(0) {
        Err(CallError::Trap(t)) => {
            assert_eq!(t.code, TrapCode::IntegerDivisionByZero);
            // The wasm caller of the import: `call_import`, function 6.
            assert_eq!(t.backtrace.first().map(|f| f.func_index), Some(6), "{t:?}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(matches!(call(1), Err(CallError::Exit(3))));
    assert!(matches!(call(2), Err(CallError::Host(m)) if m == "no"));
    assert!(matches!(call(3), Err(CallError::Host(m)) if m.contains("panicked")));
    assert_eq!(call_i32(&mut store, &inst, "answer", &[]).unwrap(), 42);
    assert_eq!(*store.data(), 4);
}

#[test]
fn nested_calls_trap_independently() {
    let module = load(&good()).unwrap();
    // The instance is only known after instantiation: the host function
    // finds it in the store's data.
    let mut store: Store<Option<Instance>> = Store::new(None);
    let ty = FuncType {
        params: vec![ValType::I32],
        results: vec![ValType::I32],
    };
    let f = Func::new(&mut store, ty, move |mut caller, args, results| {
        let inst = caller
            .data()
            .ok_or(HostError::Message("no instance".into()))?;
        // A trap in the nested call comes back here as an error.
        let boom = inst.get_func(&caller, "boom").unwrap();
        let e = boom.call(&mut caller, &[], &mut [Val::I32(0)]).unwrap_err();
        assert!(matches!(e, CallError::Trap(_)));
        let answer = inst.get_func(&caller, "answer").unwrap();
        let mut r = [Val::I32(0)];
        answer
            .call(&mut caller, &[], &mut r)
            .map_err(|e| HostError::Message(e.to_string()))?;
        results[0] = Val::I32(r[0].i32().unwrap_or(0) + args[0].i32().unwrap_or(0));
        Ok(())
    });
    let inst = Instance::new(&mut store, &module, &imports_with(f)).unwrap();
    *store.data_mut() = Some(inst);
    assert_eq!(
        call_i32(&mut store, &inst, "call_import", &[Val::I32(1)]).unwrap(),
        43
    );
}

#[test]
fn concurrent_traps() {
    let module = load(&good()).unwrap();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let module = module.clone();
            std::thread::spawn(move || {
                let mut store = Store::new(());
                let imports = imports_with(double(&mut store));
                let inst = Instance::new(&mut store, &module, &imports).unwrap();
                let s = &mut store;
                for _ in 0..50 {
                    assert_eq!(
                        trap_code(call_i32(s, &inst, "boom", &[])),
                        TrapCode::UnreachableCodeReached
                    );
                    assert_eq!(
                        trap_code(call_i32(s, &inst, "oob", &[])),
                        TrapCode::MemoryOutOfBounds
                    );
                    assert_eq!(
                        call_i32(s, &inst, "call_import", &[Val::I32(5)]).unwrap(),
                        10
                    );
                }
                assert_eq!(
                    trap_code(call_i32(s, &inst, "recurse", &[])),
                    TrapCode::StackOverflow
                );
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn link_errors_name_the_import() {
    let module = load(&good()).unwrap();
    let mut store = Store::new(());
    let e = Instance::new(&mut store, &module, &Imports::new()).unwrap_err();
    assert_eq!(e.to_string(), "unknown import `env.f`");
    let wrong = Func::new(
        &mut store,
        FuncType {
            params: vec![ValType::I64],
            results: vec![],
        },
        |_, _, _| Ok(()),
    );
    let e = Instance::new(&mut store, &module, &imports_with(wrong)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "incompatible import type for `env.f`: expected (func (param i32) (result i32)), found (func (param i64))"
    );
    // A function of another store cannot fill the import.
    let mut other = Store::new(());
    let foreign = double(&mut other);
    let e = Instance::new(&mut store, &module, &imports_with(foreign)).unwrap_err();
    assert_eq!(e.to_string(), "import `env.f` belongs to another store");
}

#[test]
fn refuses_truncated_flipped_and_old_artifacts() {
    let a = good();
    assert!(matches!(
        load(&a[..a.len() - 1]),
        Err(LoadError::Format(FormatError::Truncated { .. }))
    ));
    assert!(matches!(
        load(&a[..10]),
        Err(LoadError::Format(FormatError::Truncated { .. }))
    ));
    for at in [400, a.len() - 5, 4096 + 20] {
        let mut b = a.clone();
        b[at] ^= 1;
        assert!(
            matches!(load(&b), Err(LoadError::Format(FormatError::HashMismatch))),
            "flip at {at}"
        );
    }
    let mut v = a.clone();
    v[8] = 99;
    assert!(matches!(
        load(&v),
        Err(LoadError::Format(FormatError::Version { .. }))
    ));
}

#[test]
fn refuses_other_targets() {
    let a = builder("aarch64-unknown-linux-gnu").build().unwrap();
    let e = load(&a).unwrap_err();
    assert!(matches!(e, LoadError::Target { .. }));
    assert!(e.to_string().contains("aarch64-unknown-linux-gnu"), "{e}");
}

#[test]
fn refuses_missing_cpu_features() {
    let mut b = builder(&wasmo_loader::host_triple());
    for &f in X86Feature::ALL {
        b.facts.compat.cpu_features.insert(f);
    }
    let missing = b
        .facts
        .compat
        .cpu_features
        .missing_from(CpuFeatures::host());
    let r = load(&b.build().unwrap());
    if missing == CpuFeatures::EMPTY {
        assert!(r.is_ok());
    } else {
        let e = r.unwrap_err();
        assert!(matches!(e, LoadError::CpuFeatures { .. }));
        assert!(e.to_string().contains("--cpu x86-64-v2"), "{e}");
        assert!(e.to_string().contains(&missing.to_string()), "{e}");
    }
}

#[test]
fn refuses_compat_hash_mismatch() {
    let mut a = good();
    a[16] ^= 0xff;
    rehash(&mut a);
    assert!(matches!(load(&a), Err(LoadError::Compat)));
}

#[test]
fn refuses_out_of_bounds_metadata() {
    let mut b = builder(&wasmo_loader::host_triple());
    b.metadata.defined_funcs[0].offset = 100_000;
    assert!(matches!(
        load(&b.build().unwrap()),
        Err(LoadError::Invalid {
            section: "functions",
            ..
        })
    ));
    let mut b = builder(&wasmo_loader::host_triple());
    b.metadata.relocations[0].offset = 0;
    assert!(matches!(
        load(&b.build().unwrap()),
        Err(LoadError::Invalid {
            section: "relocations",
            ..
        })
    ));
    let mut b = builder(&wasmo_loader::host_triple());
    b.metadata.vmctx_size += 16;
    assert!(matches!(
        load(&b.build().unwrap()),
        Err(LoadError::Invalid {
            section: "metadata",
            ..
        })
    ));
}

#[test]
fn refuses_bad_trap_tables() {
    let bad_tables = [
        // Unsorted.
        TrapTable {
            offsets: vec![31, 20],
            codes: vec![8, 8],
        },
        // Lengths differ.
        TrapTable {
            offsets: vec![31],
            codes: vec![],
        },
        // Outside the text.
        TrapTable {
            offsets: vec![1 << 20],
            codes: vec![8],
        },
        // Unknown code.
        TrapTable {
            offsets: vec![31],
            codes: vec![200],
        },
    ];
    for table in bad_tables {
        let mut b = builder(&wasmo_loader::host_triple());
        b.metadata.trap_sites = table.clone();
        assert!(
            matches!(
                load(&b.build().unwrap()),
                Err(LoadError::Invalid {
                    section: "trap sites",
                    ..
                })
            ),
            "{table:?} accepted"
        );
    }
}

#[test]
fn data_segment_out_of_bounds_traps_at_instantiation() {
    let mut b = builder(&wasmo_loader::host_triple());
    b.metadata.data[0].mode = DataMode::Active {
        memory: wasmo_artifact_format::MemoryIndex(0),
        offset: ConstExpr {
            ops: vec![ConstOp::I32Const(65534)],
        },
    };
    let module = load(&b.build().unwrap()).unwrap();
    let mut store = Store::new(());
    let imports = imports_with(double(&mut store));
    match Instance::new(&mut store, &module, &imports) {
        Err(wasmo_loader::InstantiationError::Trap(t)) => {
            assert_eq!(t.code, TrapCode::MemoryOutOfBounds)
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Module>();
    check::<Instance>();
    check::<Func>();
    check::<wasmo_loader::Memory>();
    check::<wasmo_loader::Table>();
    check::<wasmo_loader::Global>();
    fn send<T: Send>() {}
    send::<Store<()>>();
}

#[test]
fn host_made_entities_link() {
    use wasmo_loader::{Global, GlobalType, Memory, Table, TableType};
    let (mut store, inst) = instance();
    let m = Memory::new(
        &mut store,
        MemoryType {
            limits: Limits {
                min: 1,
                max: Some(3),
            },
            memory64: false,
            shared: false,
        },
    )
    .unwrap();
    m.write(&mut store, 10, b"hi").unwrap();
    let mut buf = [0u8; 2];
    m.read(&store, 10, &mut buf).unwrap();
    assert_eq!(&buf, b"hi");
    assert!(m.read(&store, 65535, &mut buf).is_err());
    assert_eq!(&m.data(&store)[10..12], b"hi");
    m.data_mut(&mut store)[11] = b'o';
    assert_eq!(&m.data(&store)[10..12], b"ho");
    let t = Table::new(
        &mut store,
        TableType {
            element: ValType::FuncRef,
            limits: Limits { min: 4, max: None },
            table64: false,
        },
    )
    .unwrap();
    assert_eq!(t.size(&store), 4);
    let g = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutable: true,
        },
        Val::I32(5),
    )
    .unwrap();
    g.set(&mut store, Val::I32(6)).unwrap();
    assert_eq!(g.get(&store).i32(), Some(6));
    assert!(g.set(&mut store, Val::I64(1)).is_err());
    let f = inst.get_func(&store, "answer").unwrap();
    let g = Global::new(
        &mut store,
        GlobalType {
            content: ValType::FuncRef,
            mutable: false,
        },
        Val::FuncRef(Some(f)),
    )
    .unwrap();
    match g.get(&store) {
        Val::FuncRef(Some(back)) => assert_eq!(back, f),
        other => panic!("expected the function back, got {other:?}"),
    }
    t.set(&mut store, 2, Val::FuncRef(Some(f))).unwrap();
    match t.get(&store, 2) {
        Some(Val::FuncRef(Some(back))) => assert_eq!(back, f),
        other => panic!("expected the function back, got {other:?}"),
    }
    assert!(matches!(t.get(&store, 1), Some(Val::FuncRef(None))));
    assert!(t.get(&store, 4).is_none());
    let mut other = Store::new(());
    assert!(matches!(
        t.set(&mut other, 0, Val::FuncRef(None)),
        Err(CallError::WrongStore("table"))
    ));
}

/// Issue 9, defect 8: metadata that disagrees with the image it describes
/// is refused by the check that names the disagreement, hashes or not.
#[test]
fn issue9_metadata_inconsistent_with_the_image_is_refused() {
    type Change = fn(&mut ArtifactBuilder);
    let cases: [(&str, Change, &str); 11] = [
        (
            "function moved onto another's start (issue 13, fuzz finding _a)",
            |b| b.metadata.defined_funcs[1].offset = 0,
            "function map",
        ),
        (
            "function start off by one",
            |b| b.metadata.defined_funcs[2].offset += 1,
            "function map",
        ),
        (
            "function start on int3 padding",
            |b| b.metadata.defined_funcs[0].offset = 176,
            "function map",
        ),
        (
            "trampoline inside a function",
            |b| b.metadata.import_trampolines[0].offset = 96 + 16,
            "function map",
        ),
        (
            "function moved into its own body (issue 13, fuzz finding _b)",
            |b| b.metadata.defined_funcs[5].offset += 16,
            "function map",
        ),
        (
            "trampoline moved onto another's start",
            |b| {
                if let Some(t) = &mut b.metadata.defined_funcs[4].array_trampoline {
                    t.offset = 256;
                }
            },
            "function map",
        ),
        (
            "shortened import trampoline",
            |b| b.metadata.import_trampolines[0].len = 10,
            "function map",
        ),
        (
            "relocation over data",
            |b| b.relro = vec![1; 8],
            "relocations",
        ),
        (
            "two relocations of one slot",
            |b| {
                let r = b.metadata.relocations[0];
                b.metadata.relocations.push(r);
            },
            "relocations",
        ),
        (
            "emptied relocation list",
            |b| b.metadata.relocations.clear(),
            "trap sites",
        ),
        (
            "trap site after no helper call",
            |b| b.metadata.trap_sites.offsets[0] = 52,
            "trap sites",
        ),
    ];
    for (what, change, section) in cases {
        let mut b = builder(&wasmo_loader::host_triple());
        change(&mut b);
        match load(&b.build().unwrap()) {
            Err(LoadError::Invalid { section: s, .. }) if s == section => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

/// Calls `name`, expects the unexpected-fault trap, then a normal call on
/// the same instance.
fn assert_unexpected_fault(name: &str) {
    let (mut store, inst) = instance();
    let code = trap_code(call_i32(&mut store, &inst, name, &[]));
    assert_eq!(code, TrapCode::UnexpectedFault, "{name}");
    assert_eq!(call_i32(&mut store, &inst, "answer", &[]).unwrap(), 42);
}

/// Issue 9, defect 8: a fault in wasm text that no check explains (here
/// a null write) ends the call as a reported trap, and the instance stays
/// usable. (It used to kill the process with SIGSEGV.)
#[test]
fn issue9_wild_fault_in_wasm_is_a_trap() {
    assert_unexpected_fault("wild");
}

/// Issue 9, defect 8: `int3` executed in wasm text (SIGTRAP, which
/// nothing handled: exit 133, no message) is a reported trap.
#[test]
fn issue9_int3_in_wasm_is_a_trap() {
    assert_unexpected_fault("int3");
}

/// Issue 9, defect 8: a call from wasm to an address that is not code
/// (what an unfilled GOT slot gives) is a reported trap too.
#[test]
fn issue9_call_from_wasm_to_null_is_a_trap() {
    assert_unexpected_fault("null_call");
}

/// A fault outside wasm must stay fatal with its own signal: a read of an
/// inaccessible page in host code (SIGSEGV), and a SIGTRAP sent to the
/// process, each after a wasm call installed the handlers. Run in a child
/// process and expect it to die of that signal.
#[test]
fn foreign_faults_still_crash() {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = std::env::var_os("WASMO_LOADER_CRASH_CHILD") {
        let (mut store, inst) = instance();
        assert_eq!(call_i32(&mut store, &inst, "answer", &[]).unwrap(), 42);
        if sig == "SEGV" {
            host_fault();
        }
        let _ = std::process::Command::new("kill")
            .arg(format!("-{}", sig.to_string_lossy()))
            .arg(std::process::id().to_string())
            .status();
        std::thread::sleep(std::time::Duration::from_secs(10));
        std::process::exit(0);
    }
    const SIGTRAP: i32 = 5;
    const SIGSEGV: i32 = 11;
    for (name, number) in [("SEGV", SIGSEGV), ("TRAP", SIGTRAP)] {
        let exe = std::env::current_exe().unwrap();
        let status = std::process::Command::new(exe)
            .args([
                "--exact",
                "foreign_faults_still_crash",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("WASMO_LOADER_CRASH_CHILD", name)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.signal(), Some(number), "{name}: {status:?}");
    }
}

/// Reads a byte of a fresh `PROT_NONE` page: a genuine host fault.
#[expect(
    unsafe_code,
    reason = "the test needs a real fault in host code, outside wasm"
)]
fn host_fault() {
    // SAFETY: a new anonymous mapping at an address the kernel chooses.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED);
    // SAFETY: the pointer is valid and aligned; the page is inaccessible,
    // so the read faults, which is what this child process is for.
    let _ = unsafe { std::ptr::read_volatile(page.cast::<u8>()) };
}
