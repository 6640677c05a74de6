//! The parser: module structure it accepts, and text outside the subset it rejects with the
//! line and the statement.

use ptxsim::{Arg, Device, LaunchOptions, Module, Param, ParamType};

const HEADER: &str = ".version 8.0\n.target sm_90\n.address_size 64\n";

/// A module whose single kernel `k(.param .u64 p64, .param .u32 p32)` has `body` after its
/// declarations; the body starts on line 13.
fn kernel(body: &str) -> String {
    format!(
        "{HEADER}.visible .entry k(\n    .param .u64 p64,\n    .param .u32 p32\n)\n{{\n    .reg .pred %p<3>;\n    .reg .b32 %r<4>;\n    .reg .f32 %f<4>;\n    .reg .b64 %rd<4>;\n{body}\n    ret;\n}}\n"
    )
}

/// Parsing fails at `line` with a message containing `message` and the statement's text.
#[track_caller]
fn check_err(src: &str, line: u32, message: &str, text: &str) {
    let err = Module::parse(src).expect_err("the text should be rejected");
    assert_eq!(err.line, line, "{err}");
    assert!(err.message.contains(message), "message: {err}");
    assert!(err.text.contains(text), "text: {err}");
}

#[test]
fn atomic_is_rejected_at_its_line() {
    let src = include_str!("data/unsupported.ptx");
    let err = Module::parse(src).unwrap_err();
    assert_eq!(err.line, 19);
    assert_eq!(err.text, "atom.global.add.f32 %f2, [%rd2], %f1;");
    assert!(err.message.contains("outside the modelled subset"), "{err}");
    assert_eq!(
        err.to_string(),
        "line 19: instruction `atom.global.add.f32` is outside the modelled subset: `atom.global.add.f32 %f2, [%rd2], %f1;`"
    );
}

#[test]
fn instructions_outside_the_subset() {
    let cases: &[(&str, &str)] = &[
        ("    mul.f64 %rd1, %rd2, %rd3;", "outside the modelled subset"),
        ("    ld.local.f32 %f1, [%rd1];", ".local state space"),
        ("    ld.f32 %f1, [%rd1];", "outside the modelled subset"),
        ("    ld.global.v2.u64 {%rd1, %rd2}, [%rd3];", "32-bit elements"),
        ("    cvt.rn.s32.f32 %r1, %f1;", "outside the modelled subset"),
        ("    cvt.rzi.sat.s32.f32 %r1, %f1;", "outside the modelled subset"),
        ("    setp.lo.s32 %p1, %r1, %r2;", "outside the modelled subset"),
        ("    add.sat.s32 %r1, %r1, %r2;", "outside the modelled subset"),
        ("    mov.u32 %r1, %clock;", "outside the subset"),
        ("    bar.sync 0, 32;", "expected 1 operands"),
        ("    div.approx.f32 %f1, %f2, %f3;", "outside the modelled subset"),
        ("    ld.volatile.global.f32 %f1, [%rd1];", "outside the modelled subset"),
        ("    call foo;", "outside the modelled subset"),
        ("    .local .align 4 .b8 scratch[16];", "directive outside"),
    ];
    for (stmt, message) in cases {
        check_err(&kernel(stmt), 13, message, stmt.trim());
    }
}

#[test]
fn operand_errors() {
    let cases: &[(&str, &str)] = &[
        ("    add.f32 %f1, %f2, %rd1;", "64-bit"),
        ("    add.s32 %r1, %r9, 1;", "%r9 is not declared"),
        ("    add.f32 %f1, %f2, 1;", "not a valid immediate"),
        ("    mov.u64 %rd1, %tid.x;", "32-bit"),
        ("    bra NOWHERE;", "unknown label `NOWHERE`"),
        ("    ld.param.u32 %r1, [p64];", "8 bytes"),
        ("    ld.param.u32 %r1, [q];", "unknown parameter"),
        ("    @%r1 bra DONE;\nDONE:", "predicate"),
        ("    ld.global.f32 %f1, [%r1];", "must be 64-bit"),
        ("    ld.shared.f32 %f1, [nothing];", "unknown symbol"),
        ("    shl.b32 %r1, %r2, %rd1;", "64-bit"),
        ("    mov.u32 %r1, 4294967296;", "not a valid immediate"),
    ];
    for (stmt, message) in cases {
        let first = stmt.trim().lines().next().unwrap_or("");
        check_err(&kernel(stmt), 13, message, first);
    }
}

#[test]
fn declarations_outside_the_subset() {
    check_err(&kernel("    .reg .f16 %h<2>;"), 13, "register type", ".reg .f16");
    check_err(&kernel("    .reg .b32 %r<2>;"), 13, "declared twice", ".reg .b32 %r<2>;");
    check_err(&kernel("    {\n    add.s32 %r1, %r1, 1;\n    }"), 13, "nested blocks", "{");
    check_err(
        &kernel("    .shared .align 4 .b8 big[50000];"),
        13,
        "48 KiB",
        ".shared .align 4 .b8 big[50000];",
    );
    let dynamic = format!("{HEADER}.extern .shared .align 16 .b8 dyn[];\n");
    check_err(&dynamic, 4, "directive outside", ".extern");
    let init = format!("{HEADER}.global .align 4 .u32 tab[2] = {{1, 2}};\n");
    check_err(&init, 4, "initialisers", ".global");
    let no_size = ".version 8.0\n.target sm_90\n.visible .entry k()\n{\n    ret;\n}\n";
    check_err(no_size, 3, ".target and .address_size", ".entry k()");
    let bad_param = format!("{HEADER}.visible .entry k(.param .b32 x)\n{{\n    ret;\n}}\n");
    check_err(&bad_param, 4, "parameter type", ".b32");
    let attrs = format!("{HEADER}.visible .entry k(.param .u64 .ptr .align 8 x)\n{{\n    ret;\n}}\n");
    check_err(&attrs, 4, "parameter attributes", ".param .u64 .ptr");
    let old_target = ".version 8.0\n.target sm_61\n.address_size 64\n";
    check_err(old_target, 2, "sm_70 or newer", "sm_61");
    let comment = format!("{HEADER}/* never closed\n");
    check_err(&comment, 4, "unterminated", "/*");
}

#[test]
fn kernels_and_parameters_are_listed() {
    let m = Module::parse(include_str!("data/conversions.ptx")).unwrap();
    assert_eq!(m.kernels(), vec!["float_to_int", "int_to_float", "wide_to_float", "min_max"]);
    let u64p = |name: &str| Param { name: name.to_string(), ty: ParamType::U64 };
    let params = m.params("int_to_float").unwrap();
    assert_eq!(params, &[u64p("y"), u64p("out"), Param { name: "n".to_string(), ty: ParamType::U32 }]);
    assert!(m.params("missing").is_none());
}

#[test]
fn module_scope_global_and_shared_arrays() {
    let m = Module::parse(include_str!("data/globals.ptx")).unwrap();
    let mut dev = Device::new();
    let out = dev.alloc(64 * 4);
    let opts = LaunchOptions::default();
    dev.launch(&m, "fill", [1, 1, 1], [64, 1, 1], &[], &opts).unwrap();
    dev.launch(&m, "gather", [1, 1, 1], [64, 1, 1], &[Arg::U64(out)], &opts).unwrap();
    let got = dev.read_u32(out, 64).unwrap();
    let expected: Vec<u32> = (0..64).map(|t| 3 * ((t + 1) % 64) + 1 + 1).collect();
    assert_eq!(got, expected);
    // Blocks above .maxntid are refused.
    assert!(dev.launch(&m, "fill", [1, 1, 1], [65, 1, 1], &[], &opts).is_err());
}
