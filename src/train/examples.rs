//! Examples as the trainer feeds them: one tensor per model input and the
//! labels, each with the examples along the first axis.
//!
//! A data block's source becomes [`Examples`] in one of two ways: a file
//! loader's [`Dataset`] (one input, the file's samples) or a generated
//! sequence task ([`generate`]: the inputs `src` and `tgt`, one label per
//! position). [`Examples::bind`] then fits them to a step graph's inputs:
//! it matches fields to inputs by name, gives each example its declared
//! shape, and checks labels and token ids against what the model can take,
//! so that a mismatch is a diagnostic naming both sides rather than a
//! failure in the middle of a step.

use std::path::Path;

use super::data::{self, Dataset};
use crate::backend::Tensor;
use crate::diag::{Code, Diagnostic};
use crate::graph::semantics::rng::Rng;
use crate::graph::{DType, Shape};
use crate::sema::blocks::{SequenceTask, Targets, TaskKind};
use crate::train::{Step, StepInput};

/// One input's values for every example.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The input it feeds; `None` for a file's samples, which feed the
    /// model's only input whatever its name.
    pub name: Option<String>,
    /// `[N, ...]`.
    pub values: Tensor,
    /// True for token ids (integers), false for measurements such as pixels.
    pub integer: bool,
}

/// How a greedy decoder runs a model on examples: the decoder input starts
/// as `start` followed by the model's own predictions.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoder {
    /// The decoder input's name.
    pub field: String,
    /// The token every answer starts with.
    pub start: f32,
}

/// Examples ready to batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Examples {
    /// The inputs; after [`Examples::bind`], one per step input, in the step's order.
    pub fields: Vec<Field>,
    /// The labels `[N, ...]`, if the source has any.
    pub labels: Option<Tensor>,
    /// Where the inputs came from, for messages: a path or a generator call.
    pub origin: String,
    /// Where the labels came from.
    pub labels_origin: String,
    /// Set for sequence tasks that can be decoded greedily.
    pub decoder: Option<Decoder>,
}

impl Examples {
    /// A file loader's samples: one field feeding the model's only input.
    pub fn from_dataset(ds: Dataset) -> Examples {
        let origin = ds.images_path.display().to_string();
        let labels_origin = ds.labels_path.as_ref().map_or(origin.clone(), |p| p.display().to_string());
        Examples {
            fields: vec![Field { name: None, values: ds.images, integer: false }],
            labels: ds.labels,
            origin,
            labels_origin,
            decoder: None,
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.fields.first().and_then(|f| f.values.shape.0.first().copied()).unwrap_or(0)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the first `limit` examples.
    pub fn truncate(&mut self, limit: usize) {
        let n = self.len().min(limit);
        for t in self.fields.iter_mut().map(|f| &mut f.values).chain(self.labels.as_mut()) {
            let per: usize = t.shape.0[1..].iter().product();
            t.data.truncate(n * per);
            t.shape.0[0] = n;
        }
    }

    /// Checks that float targets are all finite numbers (a missing value
    /// would turn the loss into NaN in the middle of training).
    pub fn finite_targets(&self) -> Result<(), Diagnostic> {
        let Some(labels) = &self.labels else { return Ok(()) };
        let Some(i) = labels.data.iter().position(|v| !v.is_finite()) else { return Ok(()) };
        let per = labels.shape.0.get(1..).map_or(1, |d| d.iter().product::<usize>()).max(1);
        Err(Diagnostic::error_nowhere(
            Code::DATA_FORMAT,
            format!(
                "target {} of example {} in `{}` is {}, not a finite number",
                i % per,
                i / per,
                self.labels_origin,
                labels.data[i]
            ),
        )
        .with_help("remove or fill in the missing values before training"))
    }

    /// A new set of the examples `idx`, in that order (a validation split, a fold).
    pub fn select(&self, idx: &[usize]) -> Examples {
        let fields = self
            .fields
            .iter()
            .map(|f| Field { name: f.name.clone(), values: rows(&f.values, idx), integer: f.integer })
            .collect();
        Examples {
            fields,
            labels: self.labels.as_ref().map(|l| rows(l, idx)),
            origin: self.origin.clone(),
            labels_origin: self.labels_origin.clone(),
            decoder: self.decoder.clone(),
        }
    }

    /// The label of every example, when there is exactly one value per
    /// example (for stratified splits of class labels); `None` for sequences
    /// and for targets of several values. A single float target per example
    /// also comes back: whether labels are classes is the caller's to know.
    pub fn class_labels(&self) -> Option<&[f32]> {
        let labels = self.labels.as_ref()?;
        (labels.shape.rank() == 1 && labels.numel() == self.len()).then_some(&labels.data[..])
    }

    /// The examples `idx`, in that order: one tensor per field, and the labels.
    pub fn gather(&self, idx: &[usize]) -> (Vec<Tensor>, Option<Tensor>) {
        let fields = self.fields.iter().map(|f| rows(&f.values, idx)).collect();
        (fields, self.labels.as_ref().map(|l| rows(l, idx)))
    }

    /// Fits the examples to `step`'s inputs: each input takes the field of
    /// its name (a file's unnamed field feeds a model with one input), each
    /// example is given the input's declared shape, and the labels and token
    /// ids are checked against the model's output and tables.
    pub fn bind(&mut self, step: &Step) -> Result<(), Diagnostic> {
        let mut fields = Vec::with_capacity(step.inputs.len());
        let mut pool = std::mem::take(&mut self.fields);
        for input in &step.inputs {
            let pos = match pool.iter().position(|f| f.name.as_deref() == Some(input.name.as_str())) {
                Some(p) => p,
                None if step.inputs.len() == 1 && pool.len() == 1 && pool[0].name.is_none() => 0,
                None => return Err(self.no_field(input, &pool, step)),
            };
            let mut field = pool.swap_remove(pos);
            self.fit(&mut field, input)?;
            fields.push(field);
        }
        self.fields = fields;
        self.check_labels(step)?;
        self.check_tokens(step)
    }

    fn no_field(&self, input: &StepInput, pool: &[Field], step: &Step) -> Diagnostic {
        let names: Vec<String> =
            pool.iter().map(|f| f.name.as_ref().map_or("(unnamed)".into(), |n| format!("`{n}`"))).collect();
        let inputs: Vec<String> = step.inputs.iter().map(|i| format!("`{}`", i.name)).collect();
        Diagnostic::error_nowhere(
            Code::DATA_SHAPE,
            format!("the model's input `{}` has no matching field in `{}`", input.name, self.origin),
        )
        .with_note(format!(
            "the model takes {}; the data provides {}",
            inputs.join(", "),
            if names.is_empty() { "nothing more".into() } else { names.join(", ") }
        ))
        .with_help("a model with several inputs takes them by name from the data's fields")
    }

    /// Gives every example of `field` the input's shape, or explains why it cannot.
    fn fit(&self, field: &mut Field, input: &StepInput) -> Result<(), Diagnostic> {
        let have = Shape(field.values.shape.0[1..].to_vec());
        if have == input.shape {
            return Ok(());
        }
        if input.dtype == DType::I32 || field.integer {
            // Token sequences are never re-viewed: a length that differs is a mistake.
            return Err(Diagnostic::error_nowhere(
                Code::DATA_SHAPE,
                format!(
                    "the model's input `{}` takes examples of shape {}, but `{}` holds examples of shape {have}",
                    input.name, input.shape, self.origin
                ),
            )
            .with_help("make the sequence length declared in `forward` match the data"));
        }
        if have.numel() != input.shape.numel() {
            return Err(Diagnostic::error_nowhere(
                Code::DATA_SHAPE,
                format!(
                    "samples in `{}` have shape {have} ({} values), which cannot be viewed as {} ({} values)",
                    self.origin,
                    have.numel(),
                    input.shape,
                    input.shape.numel()
                ),
            )
            .with_note(format!("the model's input `{}` takes examples of shape {}", input.name, input.shape))
            .with_help("check the model's input shape against the data file"));
        }
        let mut dims = vec![field.values.shape.0[0]];
        dims.extend_from_slice(&input.shape.0);
        field.values.shape = Shape(dims);
        Ok(())
    }

    fn check_labels(&mut self, step: &Step) -> Result<(), Diagnostic> {
        let Some(labels) = &mut self.labels else {
            return Err(Diagnostic::error_nowhere(
                Code::DATA_FORMAT,
                format!("`{}` has no labels to train against", self.origin),
            ));
        };
        let have = Shape(labels.shape.0[1..].to_vec());
        if have != step.target {
            if have.numel() != step.target.numel() {
                let output = step.graph.output("output").map(|o| step.graph.shape(o).to_string());
                return Err(Diagnostic::error_nowhere(
                    Code::DATA_SHAPE,
                    format!(
                        "the labels in `{}` have shape {have} per example, but the model's output {} needs labels of shape {}",
                        self.labels_origin,
                        output.unwrap_or_default(),
                        step.target
                    ),
                )
                .with_help("a model's output [B, C] takes one label per example, [B, T, C] one per position"));
            }
            let mut dims = vec![labels.shape.0[0]];
            dims.extend_from_slice(&step.target.0);
            labels.shape = Shape(dims);
        }
        if step.targets == Targets::Values {
            // Float targets were checked finite when loaded (`finite_targets`).
            return Ok(());
        }
        let output = step.graph.output("output").map(|o| step.graph.shape(o).clone());
        if let Some(out) = output
            && out.rank() >= 2
        {
            let classes = out.0[out.rank() - 1];
            data::check_labels(labels, classes, Path::new(&self.labels_origin))?;
        }
        Ok(())
    }

    /// Every token id must index a row of the tables its input feeds.
    fn check_tokens(&self, step: &Step) -> Result<(), Diagnostic> {
        for bound in step.token_bounds() {
            let Some((pos, input)) = step.inputs.iter().enumerate().find(|(_, i)| i.name == bound.input)
            else {
                continue;
            };
            let values = &self.fields[pos].values;
            let per = input.shape.numel().max(1);
            let bad = values
                .data
                .iter()
                .position(|&v| !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < bound.rows));
            if let Some(i) = bad {
                let table = bound.table.as_ref().map_or("a table".to_string(), |t| format!("`{t}`"));
                return Err(Diagnostic::error_nowhere(
                    Code::TOKEN_RANGE,
                    format!(
                        "token id {} in input `{}` (example {}, position {}) is outside {table}, which has rows 0..{}",
                        values.data[i],
                        bound.input,
                        i / per,
                        i % per,
                        bound.rows
                    ),
                )
                .with_note(format!("the ids come from `{}`", self.origin))
                .with_help(format!(
                    "make the embedding's `num_embeddings` at least {}, or check the data's vocabulary",
                    max_id(&values.data) + 1
                )));
            }
        }
        Ok(())
    }
}

fn max_id(xs: &[f32]) -> i64 {
    xs.iter().fold(0.0f32, |m, &v| if v.is_finite() { m.max(v) } else { m }) as i64
}

/// Copies rows `idx` of `t` along its first axis.
fn rows(t: &Tensor, idx: &[usize]) -> Tensor {
    let per: usize = t.shape.0[1..].iter().product();
    let mut data = Vec::with_capacity(idx.len() * per);
    for &i in idx {
        data.extend_from_slice(&t.data[i * per..(i + 1) * per]);
    }
    let mut shape = vec![idx.len()];
    shape.extend_from_slice(&t.shape.0[1..]);
    Tensor::new(shape, data)
}

/// Generates a sequence task's examples: `src` (random digits), `tgt` (the
/// answer behind the start token) and the answer as labels. The same task
/// (seed included) always gives the same examples.
pub fn generate(task: &SequenceTask) -> Examples {
    let (n, len) = (task.n, task.length);
    let mut rng = Rng::with_stream(task.seed, 0x5e9);
    let mut src = Vec::with_capacity(n * len);
    let mut tgt = Vec::with_capacity(n * len);
    let mut labels = Vec::with_capacity(n * len);
    let mut answer = vec![0.0f32; len];
    for _ in 0..n {
        let digits: Vec<f32> = (0..len).map(|_| rng.below(10) as f32).collect();
        answer.copy_from_slice(&digits);
        match task.kind {
            TaskKind::Reverse => answer.reverse(),
            TaskKind::Sort => answer.sort_by(f32::total_cmp),
        }
        src.extend_from_slice(&digits);
        tgt.push(SequenceTask::START as f32);
        tgt.extend_from_slice(&answer[..len - 1]);
        labels.extend_from_slice(&answer);
    }
    let field = |name: &str, data: Vec<f32>| Field {
        name: Some(name.to_string()),
        values: Tensor::new(vec![n, len], data),
        integer: true,
    };
    Examples {
        fields: vec![field(SequenceTask::SOURCE, src), field(SequenceTask::TARGET, tgt)],
        labels: Some(Tensor::new(vec![n, len], labels)),
        origin: task.to_string(),
        labels_origin: task.to_string(),
        decoder: Some(Decoder { field: SequenceTask::TARGET.into(), start: SequenceTask::START as f32 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(kind: TaskKind, seed: u64) -> SequenceTask {
        SequenceTask { kind, n: 50, length: 6, seed }
    }

    #[test]
    fn reverse_task_inputs_and_labels() {
        let ex = generate(&task(TaskKind::Reverse, 1));
        assert_eq!(ex.len(), 50);
        let (src, tgt, labels) = (&ex.fields[0].values, &ex.fields[1].values, ex.labels.as_ref().unwrap());
        assert_eq!(src.shape, Shape(vec![50, 6]));
        for i in 0..50 {
            let row = |t: &Tensor| t.data[i * 6..(i + 1) * 6].to_vec();
            let mut reversed = row(src);
            reversed.reverse();
            assert_eq!(row(labels), reversed);
            assert_eq!(row(tgt)[0], 10.0);
            assert_eq!(row(tgt)[1..], row(labels)[..5]);
            assert!(row(src).iter().all(|&d| (0.0..10.0).contains(&d) && d.fract() == 0.0));
        }
        assert_eq!(generate(&task(TaskKind::Reverse, 1)), ex, "the same seed gives the same examples");
        assert_ne!(generate(&task(TaskKind::Reverse, 2)).fields[0], ex.fields[0]);
    }

    #[test]
    fn sort_task_labels_are_sorted_digits() {
        let ex = generate(&task(TaskKind::Sort, 3));
        let (src, labels) = (&ex.fields[0].values, ex.labels.as_ref().unwrap());
        for i in 0..50 {
            let mut sorted = src.data[i * 6..(i + 1) * 6].to_vec();
            sorted.sort_by(f32::total_cmp);
            assert_eq!(labels.data[i * 6..(i + 1) * 6], sorted[..]);
        }
    }

    #[test]
    fn truncate_and_gather_keep_fields_aligned() {
        let mut ex = generate(&task(TaskKind::Reverse, 4));
        let full = ex.clone();
        ex.truncate(7);
        assert_eq!(ex.len(), 7);
        assert_eq!(ex.labels.as_ref().unwrap().shape, Shape(vec![7, 6]));
        let (fields, labels) = full.gather(&[3, 1]);
        assert_eq!(fields[0].data[..6], full.fields[0].values.data[18..24]);
        assert_eq!(fields[1].data[6..], full.fields[1].values.data[6..12]);
        assert_eq!(labels.unwrap().shape, Shape(vec![2, 6]));
    }
}
