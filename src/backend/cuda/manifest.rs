//! The JSON manifest of a module (`nnc emit-ptx`): every launch in order
//! with its entry, kernel, shape and parameters, and every buffer.

use serde_json::{Value, json};

use super::{Param, PtxModule};
use crate::kernel::ir::{BufKind, Program};

/// The manifest of `module`, generated from `program`, as pretty JSON.
pub fn manifest_json(module: &PtxModule, program: &Program) -> String {
    let launches: Vec<Value> = module
        .launches
        .iter()
        .map(|l| {
            let params: Vec<Value> = l
                .params
                .iter()
                .map(|p| match p {
                    Param::Buffer { buf, offset, bytes } => json!({
                        "kind": "buffer",
                        "buffer": buf.0,
                        "name": buffer_name(program, buf.0 as usize),
                        "offset": offset,
                        "bytes": bytes,
                    }),
                    Param::StreamKey { stream } => json!({ "kind": "stream_key", "stream": stream }),
                    Param::Status => json!({ "kind": "status" }),
                })
                .collect();
            json!({
                "entry": l.entry,
                "kernel": l.kernel,
                "grid": l.grid,
                "block": l.block,
                "shared_bytes": l.shared_bytes,
                "params": params,
            })
        })
        .collect();
    let buffers: Vec<Value> = program
        .buffers
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let kind = match &b.kind {
                BufKind::Input(_) => "input",
                BufKind::Param(_) => "param",
                BufKind::State(_) => "state",
                BufKind::Temp => "temp",
            };
            json!({
                "id": i,
                "name": buffer_name(program, i),
                "kind": kind,
                "shape": b.shape.0,
                "dtype": format!("{:?}", b.dtype),
                "bytes": 4 * b.numel(),
            })
        })
        .collect();
    let outputs: Vec<Value> =
        program.outputs.iter().map(|(n, b)| json!({ "name": n, "buffer": b.0 })).collect();
    let doc = json!({
        "arch": module.arch.to_string(),
        "launches": launches,
        "buffers": buffers,
        "outputs": outputs,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// A buffer's name: the feed's name, else `b<id>`.
fn buffer_name(program: &Program, i: usize) -> String {
    match &program.buffers[i].kind {
        BufKind::Input(n) | BufKind::Param(n) | BufKind::State(n) => n.clone(),
        BufKind::Temp => format!("b{i}"),
    }
}
