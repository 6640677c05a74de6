//! Sequence models end to end: generated sequence tasks with two named
//! inputs and one label per position, teacher-forced training, greedy
//! decoding, and the errors a sequence program can meet at run time.
//! The models are small so that each test trains in seconds.

mod common;

use std::collections::HashMap;
use std::path::Path;

use nnc::backend::Tensor;
use nnc::backend::interp::Interp;
use nnc::backend::{Env, interp};
use nnc::cli::FsLoader;
use nnc::diag::Code;
use nnc::sema::blocks::{SequenceTask, TaskKind, check_train};
use nnc::sema::{self, Program};
use nnc::syntax::ast;
use nnc::train::examples::generate;
use nnc::train::trainer::{RunOptions, Session, Summary};

use common::files::write;

/// A small encoder-decoder over digit sequences of `length`; `causal`
/// says whether the decoder hides later target positions.
fn seq2seq(task: &str, length: usize, causal: bool, settings: &str) -> String {
    format!(
        "model S {{
            embed   = Embedding(11, 32)
            pos     = SinusoidalPositionalEncoding(32)
            encoder = TransformerEncoderLayer(32, 4, dim_feedforward = 64, dropout = 0.0)
            decoder = TransformerDecoderLayer(32, 4, dim_feedforward = 64, dropout = 0.0)
            head    = Linear(32, 10)
            fn forward(src: int[B, {length}], tgt: int[B, {length}]) -> [B, {length}, 10] {{
                let memory = encoder(pos(embed(src)))
                head(decoder(pos(embed(tgt)), memory, causal = {causal}))
            }}
        }}
        data digits {{
            train = {task}(n = 1536, length = {length}, seed = 1)
            test  = {task}(n = 256, length = {length}, seed = 2)
        }}
        train S on digits {{
            loss      = cross_entropy
            optimizer = adam(lr = 3e-3)
            batch     = 32
            seed      = 5
            metrics   = [accuracy, sequence_accuracy]
            {settings}
        }}"
    )
}

fn session_result(src: &str, epochs: usize) -> Result<Summary, nnc::diag::Diagnostic> {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.nn", src);
    let (prog, diags) = Program::load_root(&file, &mut FsLoader);
    assert!(diags.is_empty(), "{diags:?}");
    let (cfg, diags) = check_train(&prog, &prog.trains[0]);
    let cfg = cfg.unwrap_or_else(|| panic!("{diags:?}"));
    let opts = RunOptions { epochs: Some(epochs), no_save: true, ..RunOptions::default() };
    let mut s = Session::new(&prog, &cfg, &opts, &Interp)?;
    s.train(&opts, &mut |_| {})
}

fn train(src: &str, epochs: usize) -> Summary {
    session_result(src, epochs).unwrap_or_else(|d| panic!("{d:?}"))
}

#[test]
fn an_encoder_decoder_learns_to_reverse_and_decodes_greedily() {
    let summary = train(&seq2seq("reverse_digits", 5, true, ""), 4);
    let last = summary.epochs.last().unwrap();
    let test = last.test.as_ref().unwrap();
    let (acc, seq) = (test.accuracy().unwrap(), test.sequence_accuracy.unwrap());
    assert!(seq >= 0.9, "exact-sequence accuracy {seq} after 4 epochs: {:?}", summary.epochs);
    // A sequence is right only if all its positions are.
    assert!(acc >= seq, "per-position accuracy {acc} below sequence accuracy {seq}");
    assert!(summary.losses.first().unwrap() > &(4.0 * last.train_loss()));
}

#[test]
fn greedy_decoding_matches_a_step_by_step_reference() {
    // The decoder here is not causal, so its prediction at t also reads the
    // decoder inputs after t: true digits under teacher forcing, the start
    // token as a placeholder while decoding. The two then give different
    // counts of exact sequences, and the session's count must be the greedy
    // one, recomputed here one sequence at a time: the prediction at t is
    // taken from the run that has decoded positions 0..t and becomes the
    // input at t + 1.
    let src = seq2seq("reverse_digits", 5, false, "");
    let summary = train(&src, 2);
    let reported = summary.epochs[1].test.as_ref().unwrap().sequence_accuracy.unwrap();
    let (prog, diags) = Program::from_source("s.nn", &src);
    assert!(diags.is_empty(), "{diags:?}");
    let model = ast::Expr { kind: ast::ExprKind::Name("S".into()), span: Default::default() };
    let binding = HashMap::from([("B".to_string(), 1)]);
    let lowered = sema::lower_forward(&prog, &model, &binding, &HashMap::new(), false).unwrap();
    let mut env = Env::new(0);
    env.params = summary.params.into_iter().collect();
    let task = SequenceTask { kind: TaskKind::Reverse, n: 256, length: 5, seed: 2 };
    let test = generate(&task);
    let (sources, labels) = (&test.fields[0].values, test.labels.as_ref().unwrap());
    let (mut exact, mut forced_exact) = (0, 0);
    for i in 0..256 {
        let digits = &sources.data[i * 5..(i + 1) * 5];
        let answer = &labels.data[i * 5..(i + 1) * 5];
        let predict = |env: &mut Env, tgt: &[f32]| -> Vec<f32> {
            env.inputs.insert("src".into(), Tensor::new(vec![1, 5], digits.to_vec()));
            env.inputs.insert("tgt".into(), Tensor::new(vec![1, 5], tgt.to_vec()));
            let out = interp::eval(&lowered.graph, env).unwrap().get(lowered.output).clone();
            out.data.chunks(10).map(argmax).collect()
        };
        let (mut tgt, mut decoded) = (vec![10.0; 5], vec![0.0; 5]);
        for t in 0..5 {
            decoded[t] = predict(&mut env, &tgt)[t];
            if t < 4 {
                tgt[t + 1] = decoded[t];
            }
        }
        exact += usize::from(decoded == answer);
        let mut forced = vec![10.0];
        forced.extend_from_slice(&answer[..4]);
        forced_exact += usize::from(predict(&mut env, &forced) == answer);
    }
    assert_eq!(reported, exact as f64 / 256.0, "teacher forcing would give {}", forced_exact as f64 / 256.0);
    assert!(
        exact > 0 && exact != forced_exact,
        "greedy {exact}, teacher-forced {forced_exact}: the test needs them to differ"
    );
}

fn argmax(row: &[f32]) -> f32 {
    row.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0
        as f32
}

#[test]
fn sorting_task_trains_with_reproducible_losses() {
    let src = seq2seq("sort_digits", 4, true, "");
    let a = train(&src, 1);
    let b = train(&src, 1);
    assert_eq!(a.losses.len(), 48, "1536 examples in batches of 32");
    assert!(a.losses.iter().zip(&b.losses).all(|(x, y)| x.to_bits() == y.to_bits()));
    assert!(a.losses.last().unwrap() < &(0.7 * a.losses[0]), "{:?}", a.losses);
}

#[test]
fn token_ids_outside_the_embedding_are_reported() {
    // The digits take ids 0 to 9 (and the start token 10); a table of 8 rows cannot hold them.
    let src = seq2seq("reverse_digits", 5, true, "").replace("Embedding(11, 32)", "Embedding(8, 32)");
    let err = session_result(&src, 1).unwrap_err();
    assert_eq!(err.code, Code::TOKEN_RANGE, "{err:?}");
    assert!(err.message.contains("`embed.weight`"), "{}", err.message);
    assert!(err.message.contains("rows 0..8"), "{}", err.message);
    assert!(err.message.contains("input `src`"), "{}", err.message);
    assert!(err.help.as_deref().unwrap_or("").contains("at least 10"), "{err:?}");
}

#[test]
fn an_lstm_tagger_trains_on_per_position_labels() {
    // Sorting digits one position at a time from the whole input: a
    // 2-layer LSTM reads `src` and predicts a digit per position.
    let src = "model Tagger {
            embed = Embedding(11, 16)
            lstm  = LSTM(16, 32, num_layers = 2)
            head  = Linear(32, 10)
            fn forward(src: int[B, 4]) -> [B, 4, 10] { head(lstm(embed(src))[0]) }
        }
        data digits { train = sort_digits(n = 640, length = 4, seed = 3) }
        train Tagger on digits {
            loss = cross_entropy
            optimizer = adam(lr = 1e-2)
            batch = 32
            metrics = [accuracy]
        }";
    let summary = train(src, 3);
    let first = &summary.epochs[0];
    let last = summary.epochs.last().unwrap();
    assert!(last.train_loss() < 0.8 * first.train_loss(), "{:?}", summary.epochs);
    assert!(last.train.accuracy().unwrap() > 0.4, "{:?}", summary.epochs);
}

/// A bag-of-tokens classifier over `length` token ids read from a CSV file
/// of `label,id,id,...` rows.
fn csv_tokens(dir: &Path, length: usize, declared: usize) -> String {
    let mut rows = String::new();
    for i in 0..96 {
        let ids: Vec<String> = (0..length).map(|j| ((i * 7 + j * 3) % 10).to_string()).collect();
        rows += &format!("{},{}\n", (i * 7) % 10, ids.join(","));
    }
    let csv = write(dir, "tokens.csv", &rows);
    format!(
        "model Bag {{
            embed = Embedding(10, 8)
            head  = Linear(8, 10)
            fn forward(tokens: int[B, {declared}]) -> [B, 10] {{ head(mean(embed(tokens), axis = 1)) }}
        }}
        data tokens {{ train = csv(\"{}\") }}
        train Bag on tokens {{
            loss = cross_entropy
            optimizer = adam(lr = 1e-2)
            batch = 32
            metrics = [accuracy]
        }}",
        csv.display()
    )
}

#[test]
fn token_ids_from_a_file_feed_an_int_input() {
    let dir = tempfile::tempdir().unwrap();
    let summary = train(&csv_tokens(dir.path(), 5, 5), 5);
    let (first, last) = (&summary.epochs[0], summary.epochs.last().unwrap());
    assert!(last.train_loss() < first.train_loss(), "{:?}", summary.epochs);
}

#[test]
fn a_sequence_length_other_than_the_declared_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let err = session_result(&csv_tokens(dir.path(), 5, 6), 1).unwrap_err();
    assert_eq!(err.code, Code::DATA_SHAPE, "{err:?}");
    assert!(err.message.contains("input `tokens` takes examples of shape [6]"), "{}", err.message);
    assert!(err.message.contains("tokens.csv") && err.message.contains("shape [5]"), "{}", err.message);
}
