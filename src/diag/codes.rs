//! The registry of stable diagnostic codes.
//!
//! Codes are grouped by stage: E01xx syntax and files, E02xx names and
//! arguments, E03xx types and shapes, E04xx data and train blocks, E05xx
//! back ends, E06xx run time (data files, checkpoints, numerics).
//! Every code has an entry in `docs/ERRORS.md`; a test keeps the two in step.

use std::fmt;

/// A stable diagnostic code; displays as `E0301`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub u16);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{:04}", self.0)
    }
}

macro_rules! codes {
    ($($name:ident = $num:literal, $title:literal;)*) => {
        impl Code {
            $(#[doc = $title] pub const $name: Code = Code($num);)*
            /// Every code with its one-line title, in numeric order.
            pub const ALL: &'static [(Code, &'static str)] = &[$((Code($num), $title),)*];
        }
    };
}

codes! {
    SYNTAX = 101, "syntax error";
    BAD_LITERAL = 102, "malformed literal";
    USE_NOT_FOUND = 110, "a used file cannot be read";
    USE_CYCLE = 111, "cyclic `use`";

    UNKNOWN_NAME = 201, "unknown name";
    ARITY = 203, "wrong number of arguments";
    UNKNOWN_KEYWORD = 204, "unknown keyword argument";
    DUPLICATE_ARGUMENT = 205, "argument given twice";
    DUPLICATE_DEFINITION = 206, "name defined twice";
    MISSING_ARGUMENT = 207, "missing required argument";
    NOT_CALLABLE = 208, "value is not callable";
    NO_FORWARD = 209, "model has no `forward`";
    RECURSION = 210, "recursive model or function";
    ASSIGN_UNDECLARED = 211, "assignment to an undeclared variable";

    BROADCAST = 301, "shapes cannot be broadcast together";
    MATMUL = 302, "matrix multiply dimensions do not agree";
    ARG_SHAPE = 303, "argument shape does not match the declared shape";
    RESULT_SHAPE = 304, "result shape does not match the declared shape";
    DIM_CONFLICT = 305, "symbolic dimension bound to two different sizes";
    RESHAPE = 306, "reshape changes the number of elements";
    WINDOW = 307, "convolution or pooling window does not fit";
    AXIS = 308, "axis or rank out of range";
    TYPE = 309, "wrong kind of value";
    INDEX = 310, "index or slice out of range";
    BAD_VALUE = 311, "argument value out of range";
    DTYPE = 312, "tensor element type does not match the declared type";

    TRAIN_TARGET = 401, "train block names an unknown model or data set";
    SETTING = 402, "unknown or invalid setting";
    MISSING_SETTING = 403, "required setting missing";
    DATA_SHAPE = 404, "data does not fit the model's input";
    LOSS = 405, "loss is not a scalar";
    METRIC = 406, "unknown metric, or a metric that does not fit the task";
    VALIDATION = 407, "invalid validation, `keep` or `early_stop` setting";
    FOLDS = 408, "invalid cross-validation setting";

    BACKEND = 501, "back end cannot compile the graph";
    CUDA_UNAVAILABLE = 502, "no CUDA driver or GPU";
    CUDA_DRIVER = 503, "CUDA driver too old for the emitted PTX";
    CUDA_MEMORY = 504, "out of GPU memory";
    CUDA_LAUNCH = 505, "GPU kernel failed";
    CUDA_NOT_BUILT = 506, "this nnc was built without the CUDA back end";

    DATA_FILE = 601, "data file cannot be read";
    DATA_FORMAT = 602, "data file is malformed";
    LABEL_RANGE = 603, "label out of range";
    TOKEN_RANGE = 604, "token id outside the embedding table";
    CHECKPOINT = 605, "checkpoint does not match the model";
    NON_FINITE = 606, "loss became NaN or infinite";
    WRITE = 607, "output file cannot be written";
    INTERRUPTED = 608, "run interrupted";
}
