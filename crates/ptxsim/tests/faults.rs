//! Kernels that go wrong: each fault must be reported with its kind, kernel, thread and the
//! source line of the instruction that caused it.

use ptxsim::{Arg, Device, Fault, FaultKind, LaunchOptions, Module, RaceKind, SimError, Space};

fn module(file: &str) -> Module {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Module::parse(&src).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The 1-based line of the first line of `file` containing `needle`, after `after`.
fn line_of(file: &str, after: &str, needle: &str) -> u32 {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(path).unwrap();
    let start = src.lines().position(|l| l.contains(after)).expect("anchor");
    let idx = src.lines().skip(start).position(|l| l.contains(needle)).expect("needle");
    (start + idx + 1) as u32
}

/// Launches `kernel` of faults.ptx and returns its fault.
#[track_caller]
fn fault(
    kernel: &str,
    grid: u32,
    block: u32,
    args: impl Fn(&mut Device) -> Vec<Arg>,
    opts: LaunchOptions,
) -> Fault {
    let m = module("faults.ptx");
    let mut dev = Device::new();
    let args = args(&mut dev);
    match dev.launch(&m, kernel, [grid, 1, 1], [block, 1, 1], &args, &opts) {
        Err(SimError::Fault(f)) => {
            assert_eq!(f.kernel, kernel);
            // The message names the kernel, the line and the instruction.
            let text = SimError::Fault(f.clone()).to_string();
            assert!(text.contains(&format!("line {}", f.line)) && text.contains(&f.instruction), "{text}");
            *f
        }
        other => panic!("{kernel}: expected a fault, got {other:?}"),
    }
}

fn out_buffer(words: usize) -> impl Fn(&mut Device) -> Vec<Arg> {
    move |dev: &mut Device| vec![Arg::U64(dev.alloc(words * 4))]
}

#[test]
fn out_of_bounds_store_is_reported_at_its_line() {
    let f = fault("store_unguarded", 1, 64, out_buffer(32), LaunchOptions::default());
    assert_eq!(f.line, line_of("faults.ptx", "store_unguarded(", "st.global.u32"));
    assert_eq!(f.instruction, "st.global.u32 [%rd4], %r1;");
    let FaultKind::OutOfBounds { space: Space::Global, addr, size: 4 } = f.kind else {
        panic!("{:?}", f.kind)
    };
    // The faulting thread is one of those past the end, and the address is its element.
    assert!(f.thread[0] >= 32, "{f:?}");
    assert_eq!(addr % 256, (f.thread[0] as u64 * 4) % 256);
}

#[test]
fn infinite_loop_is_stopped_by_the_budget() {
    let opts = LaunchOptions { seed: 1, max_instructions: 100_000 };
    let f = fault("spin", 2, 32, out_buffer(1), opts);
    assert_eq!(f.kind, FaultKind::Budget { limit: 100_000 });
}

#[test]
fn unwritten_register_read_names_the_register() {
    let f = fault("uninit_register", 1, 1, out_buffer(1), LaunchOptions::default());
    assert_eq!(f.kind, FaultKind::UninitRegister { register: "%r1".to_string() });
    assert_eq!(f.line, line_of("faults.ptx", "uninit_register(", "add.s32"));
}

#[test]
fn misaligned_load_is_reported() {
    let f = fault("misaligned", 1, 1, out_buffer(4), LaunchOptions::default());
    assert!(matches!(f.kind, FaultKind::Misaligned { space: Space::Global, align: 4, .. }), "{:?}", f.kind);
}

#[test]
fn integer_division_by_zero_is_reported() {
    let f = fault(
        "divide",
        1,
        1,
        |dev: &mut Device| vec![Arg::U64(dev.alloc(4)), Arg::U32(0)],
        LaunchOptions::default(),
    );
    assert_eq!(f.kind, FaultKind::DivisionByZero);
    let m = module("faults.ptx");
    let mut dev = Device::new();
    let out = dev.alloc(4);
    dev.launch(&m, "divide", [1, 1, 1], [1, 1, 1], &[Arg::U64(out), Arg::U32(7)], &LaunchOptions::default())
        .unwrap();
    assert_eq!(dev.read_u32(out, 1).unwrap(), vec![14]);
}

#[test]
fn blocks_writing_one_word_race() {
    let f = fault("every_block_writes", 3, 4, out_buffer(1), LaunchOptions::default());
    let FaultKind::Race { space: Space::Global, kind: RaceKind::WriteAfterWrite, other, .. } = f.kind else {
        panic!("{:?}", f.kind)
    };
    assert_ne!(other.block, f.block);
    assert_eq!(other.thread, Some([0, 0, 0]));
}

#[test]
fn non_coherent_load_of_data_written_in_the_launch() {
    let f = fault("nc_after_store", 1, 8, out_buffer(8), LaunchOptions::default());
    assert!(matches!(f.kind, FaultKind::NonCoherent { .. }), "{:?}", f.kind);
}

#[test]
fn shared_memory_unwritten_and_out_of_bounds() {
    let f = fault("shared_unwritten", 1, 2, out_buffer(1), LaunchOptions::default());
    assert_eq!(f.kind, FaultKind::UninitMemory { space: Space::Shared, addr: 8 });
    let f = fault("shared_out_of_bounds", 1, 1, out_buffer(1), LaunchOptions::default());
    assert_eq!(f.line, line_of("faults.ptx", "shared_out_of_bounds(", "[%r1+16]"));
    assert!(matches!(f.kind, FaultKind::OutOfBounds { space: Space::Shared, size: 4, .. }), "{:?}", f.kind);
}

#[test]
fn threads_at_different_barriers() {
    let f = fault("divergent_barrier", 1, 32, out_buffer(1), LaunchOptions::default());
    assert!(matches!(f.kind, FaultKind::Barrier { .. }), "{:?}", f.kind);
}

#[test]
fn shuffle_naming_an_exited_lane() {
    for seed in 0..4 {
        let f = fault(
            "shfl_after_exit",
            1,
            32,
            out_buffer(1),
            LaunchOptions { seed, ..LaunchOptions::default() },
        );
        let FaultKind::Shuffle { message } = &f.kind else { panic!("{:?}", f.kind) };
        assert!(message.contains("lane 0") && message.contains("exited"), "{message}");
        assert_eq!(f.line, line_of("faults.ptx", "shfl_after_exit(", "shfl.sync"));
    }
}

#[test]
fn lanes_at_different_shuffles() {
    let f = fault("shfl_divergent", 1, 32, out_buffer(1), LaunchOptions::default());
    let FaultKind::Shuffle { message } = &f.kind else { panic!("{:?}", f.kind) };
    assert!(message.contains("another shfl.sync"), "{message}");
}

#[test]
fn missing_barrier_in_tiled_matmul_is_a_race() {
    let m = module("matmul_missing_bar.ptx");
    let (rows, cols, inner) = (32usize, 32usize, 64usize);
    for seed in 0..5 {
        let mut dev = Device::new();
        let a = dev.alloc_f32(&vec![1.0; rows * inner]);
        let b = dev.alloc_f32(&vec![2.0; inner * cols]);
        let c = dev.alloc(rows * cols * 4);
        let args = [
            Arg::U64(a),
            Arg::U64(b),
            Arg::U64(c),
            Arg::U32(rows as u32),
            Arg::U32(cols as u32),
            Arg::U32(inner as u32),
        ];
        let opts = LaunchOptions { seed, ..LaunchOptions::default() };
        let err = dev.launch(&m, "matmul_missing_bar", [2, 2, 1], [16, 16, 1], &args, &opts).unwrap_err();
        let f = err.fault().unwrap_or_else(|| panic!("{err}"));
        let FaultKind::Race { space: Space::Shared, other, .. } = f.kind else { panic!("{err}") };
        assert_eq!(other.block, f.block);
        assert!(err.to_string().contains("data race on shared"), "{err}");
    }
}

#[test]
fn launch_errors_before_running() {
    let m = module("faults.ptx");
    let mut dev = Device::new();
    let out = dev.alloc(4);
    let o = LaunchOptions::default();
    let err = dev.launch(&m, "nope", [1, 1, 1], [1, 1, 1], &[], &o).unwrap_err();
    assert!(
        matches!(&err, SimError::KernelNotFound { available, .. } if available.contains(&"spin".to_string()))
    );
    let err = dev.launch(&m, "divide", [1, 1, 1], [1, 1, 1], &[Arg::U64(out), Arg::S32(3)], &o).unwrap_err();
    assert!(matches!(err, SimError::Launch { .. }), "{err}");
    let err = dev.launch(&m, "divide", [1, 1, 1], [1, 1, 1], &[Arg::U64(out)], &o).unwrap_err();
    assert!(matches!(err, SimError::Launch { .. }), "{err}");
    let err = dev.launch(&m, "spin", [1, 1, 1], [2048, 1, 1], &[Arg::U64(out)], &o).unwrap_err();
    assert!(matches!(err, SimError::Launch { .. }), "{err}");
    let err = dev.launch(&m, "spin", [1 << 30, 1, 1], [1024, 1, 1], &[Arg::U64(out)], &o).unwrap_err();
    assert!(err.to_string().contains("exceed the instruction budget"), "{err}");
    let block_sum = module("block_sum.ptx");
    let args = [Arg::U64(out), Arg::U64(out), Arg::U32(1)];
    let err = dev.launch(&block_sum, "block_sum", [1, 1, 1], [128, 1, 1], &args, &o).unwrap_err();
    assert!(err.to_string().contains(".reqntid"), "{err}");
}

#[test]
fn host_accesses_outside_allocations_fail() {
    let mut dev = Device::new();
    let a = dev.alloc(16);
    assert!(dev.write_f32(a, &[1.0; 4]).is_ok());
    assert!(matches!(dev.write_f32(a + 4, &[1.0; 4]), Err(SimError::Host { .. })));
    assert!(dev.read_u32(a + 16, 1).is_err());
    assert!(dev.read_u32(0, 1).is_err());
    dev.free(a).unwrap();
    assert!(dev.read_u32(a, 1).is_err());
}
