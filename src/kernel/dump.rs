//! The text form of a fused program, printed by `nnc graph --stage fused`.
//!
//! Graph nodes are numbered as in the graph dump (topological order), so
//! the two can be read side by side. Each kernel lists the nodes it
//! computes, then its loops: outer variables first, then each stage with
//! the expressions it needs in SSA form, each printed once.

use std::fmt::Write as _;

use super::ir::{BufKind, Expr, ExprId, Kernel, LoopKernel, Program};
use super::memory::MemoryPlan;
use crate::graph::dump::attributes;
use crate::graph::{Graph, NodeId, Op};

/// The whole program: buffers, kernels, outputs, updates and the memory plan.
pub fn text(g: &Graph, p: &Program, mem: &MemoryPlan) -> String {
    let number = crate::graph::dump::numbering(g);
    let node = |n: NodeId| {
        let nd = g.node(n);
        let attrs = match nd.op {
            Op::Input { .. } | Op::Param { .. } | Op::State { .. } => String::new(),
            _ => attributes(&nd.op),
        };
        format!("%{} {}{}", number.get(&n).copied().unwrap_or(usize::MAX), nd.op.name(), attrs)
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// {} kernels; temporaries {} bytes planned in {} bytes",
        p.kernels.len(),
        mem.naive_bytes(),
        mem.peak_bytes()
    );
    for (i, b) in p.buffers.iter().enumerate() {
        let kind = match &b.kind {
            BufKind::Input(n) => format!("input \"{n}\""),
            BufKind::Param(n) => format!("param \"{n}\""),
            BufKind::State(n) => format!("state \"{n}\""),
            BufKind::Temp => match mem.offsets[i] {
                Some(off) => format!("temp @{off}"),
                None => "temp (unused)".into(),
            },
        };
        let _ = writeln!(out, "b{i} = {kind} : {}{} (%{})", b.dtype, b.shape, number[&b.node]);
    }
    for (i, k) in p.kernels.iter().enumerate() {
        let nodes: Vec<String> = k.nodes().iter().map(|&n| node(n)).collect();
        match k {
            Kernel::Loop(l) => {
                let _ = writeln!(out, "kernel {i} loop: {}", nodes.join(", "));
                loop_body(&mut out, l, "  ");
            }
            Kernel::Gemm(gm) => {
                let batch: Vec<String> = gm.batch.iter().map(|d| d.to_string()).collect();
                let _ = writeln!(out, "kernel {i} gemm: {}", nodes.join(", "));
                if let Some(p) = &gm.prologue {
                    let which = match p.operand {
                        super::ir::Operand::A => "a",
                        super::ir::Operand::B => "b",
                    };
                    let _ = writeln!(
                        out,
                        "  prologue: operand {which} = {}, blocks of {} elements:",
                        p.buf, p.unit
                    );
                    loop_body(&mut out, &p.kernel, "    ");
                }
                let _ = writeln!(
                    out,
                    "  {} = [{}] {}x{} @ {}x{}: a = {}, b = {}",
                    gm.c,
                    batch.join(","),
                    gm.m,
                    gm.k,
                    gm.k,
                    gm.n,
                    gm.a,
                    gm.b
                );
                if let Some(e) = &gm.epilogue {
                    let blocks = if gm.c_blocks {
                        format!(", {} kept one block at a time", gm.c)
                    } else {
                        String::new()
                    };
                    let _ = writeln!(out, "  epilogue, {} product rows per row{blocks}:", gm.rows);
                    loop_body(&mut out, e, "    ");
                }
            }
            Kernel::Gather(gk) => {
                let _ = writeln!(out, "kernel {i} gather: {}", nodes.join(", "));
                let _ = writeln!(
                    out,
                    "  {} = rows of {} ({} x {}) at {}",
                    gk.out, gk.table, gk.rows, gk.row, gk.idx
                );
            }
            Kernel::ScatterAdd(sk) => {
                let _ = writeln!(out, "kernel {i} scatter_add: {}", nodes.join(", "));
                let _ = writeln!(
                    out,
                    "  {} = {} ({} x {}) rows added at {}",
                    sk.out, sk.src, sk.rows, sk.row, sk.idx
                );
            }
        }
    }
    for (name, b) in &p.outputs {
        let _ = writeln!(out, "output {name} = {b}");
    }
    for (t, v) in &p.updates {
        if t == v {
            let _ = writeln!(out, "update {t} in place");
        } else {
            let _ = writeln!(out, "update {t} <- {v}");
        }
    }
    out
}

fn loop_body(out: &mut String, k: &LoopKernel, indent: &str) {
    let vars = |vs: &[crate::kernel::ir::Var]| -> String {
        vs.iter().map(|v| format!("{v}<{}", k.extents[v.0 as usize])).collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(out, "{indent}for {}:", vars(&k.outer));
    let mut printed = vec![false; k.exprs.len()];
    for s in &k.stages {
        let inner = if s.vars.is_empty() {
            format!("{indent}  at each point:")
        } else {
            format!("{indent}  for {}:", vars(&s.vars))
        };
        let _ = writeln!(out, "{inner}");
        for e in k.stage_exprs(s) {
            if !std::mem::replace(&mut printed[e.0 as usize], true) {
                let _ = writeln!(out, "{indent}    {e} = {}", expr(k, e));
            }
        }
        for r in &s.reductions {
            let op = match r.op {
                crate::graph::ReduceOp::Sum => "sum",
                crate::graph::ReduceOp::Max => "max",
            };
            let _ = writeln!(out, "{indent}    {} {op}= {}", r.acc, r.value);
        }
        for st in &s.stores {
            let _ = writeln!(out, "{indent}    {}[{}] = {}", st.buf, st.index, st.value);
        }
    }
}

fn expr(k: &LoopKernel, e: ExprId) -> String {
    let conds =
        |cs: &[crate::kernel::ir::Cond]| cs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" && ");
    match k.expr(e) {
        Expr::Const(bits) => format!("const {:?}", f32::from_bits(*bits)),
        Expr::Load { buf, index, guard } if guard.is_empty() => format!("load {buf}[{index}]"),
        Expr::Load { buf, index, guard } => format!("load {buf}[{index}] if {}", conds(guard)),
        Expr::Index(i) => format!("index {i}"),
        Expr::Rand { stream, index } => format!("rand[stream={stream}] {index}"),
        Expr::Acc(a) => format!("{a}"),
        Expr::Cond(cs) => format!("cond {}", conds(cs)),
        Expr::Unary(u, a) => format!("{} {a}", Op::Unary(*u).name()),
        Expr::Binary(b, x, y) => format!("{} {x}, {y}", Op::Binary(*b).name()),
        Expr::Select(c, a, b) => format!("select {c}, {a}, {b}"),
        Expr::Trunc(a) => format!("trunc {a}"),
    }
}
