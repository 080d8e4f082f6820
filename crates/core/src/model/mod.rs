//! The poem model: Embedding -> recurrent layers (PyTorch `nn.RNN` / `nn.LSTM` / `nn.GRU`
//! semantics, `recurrent`) -> Linear over the vocabulary, optionally tied to the embedding.
//! Uses `kernels` (the fused GRU layer) and `readback`.

pub mod recurrent;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::module::embedding;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

pub use recurrent::{LayerState, Probes, RecurrentLayer};

/// The recurrent cell, as PyTorch defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// `nn.RNN` (tanh): h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    Rnn,
    /// `nn.LSTM`, gates i, f, g, o
    Lstm,
    /// `nn.GRU`, gates r, z, n (reset applied after the hidden projection)
    #[default]
    Gru,
}

impl Cell {
    pub const ALL: [Cell; 3] = [Cell::Rnn, Cell::Lstm, Cell::Gru];

    /// Gate blocks stacked in the weights (PyTorch's `gate_size / hidden_size`).
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// The PyTorch module's name, which prefixes its parameters (`gru.weight_ih_l0`).
    pub fn name(self) -> &'static str {
        match self {
            Cell::Rnn => "rnn",
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Cell::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// Largest embedding or hidden size, and most layers, a model may have. The checkpoint
/// loader, the CLI and the browser all enforce these.
pub const MAX_WIDTH: usize = 4096;
pub const MAX_LAYERS: usize = 8;
/// Most parameters a model may have (1 GiB of f32 weights; training keeps about four copies).
pub const MAX_PARAMS: usize = 1 << 28;

/// The model's size, chosen before the vocabulary is known.
#[derive(Config, Debug, PartialEq)]
pub struct ModelShape {
    #[config(default = 128)]
    pub embedding: usize,
    #[config(default = 256)]
    pub hidden: usize,
    #[config(default = 1)]
    pub layers: usize,
    /// Dropout between recurrent layers (as PyTorch's `dropout`), active only while training.
    #[config(default = 0.0)]
    pub dropout: f64,
    #[config(default = "Cell::Gru")]
    pub cell: Cell,
    /// Tie the output layer to the embedding: h is projected to the embedding size and the
    /// transposed embedding scores the vocabulary (fewer parameters, a cheaper output layer).
    #[config(default = false)]
    pub tied: bool,
}

impl ModelShape {
    /// Checks the sizes before anything is allocated.
    pub fn validate(&self, vocab_size: usize) -> Result<(), String> {
        for (setting, width) in [("embedding", self.embedding), ("hidden", self.hidden)] {
            if !(1..=MAX_WIDTH).contains(&width) {
                return Err(format!("{setting} must be between 1 and {MAX_WIDTH} (got {width})"));
            }
        }
        if !(1..=MAX_LAYERS).contains(&self.layers) {
            return Err(format!("layers must be between 1 and {MAX_LAYERS} (got {})", self.layers));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(format!("dropout must be in [0, 1) (got {})", self.dropout));
        }
        let params = PoemModelConfig::new(vocab_size, self.clone()).num_params();
        if params > MAX_PARAMS {
            return Err(format!("the model would have {params} parameters; the limit is {MAX_PARAMS}"));
        }
        Ok(())
    }

    /// The hidden size at which this shape (with its cell) has about `params` parameters:
    /// the "same parameter budget" helper for comparing cells.
    pub fn hidden_for_budget(&self, vocab_size: usize, params: usize) -> usize {
        let count = |hidden| PoemModelConfig::new(vocab_size, self.clone().with_hidden(hidden)).num_params();
        // The count grows with hidden: binary search for the closest size.
        let (mut lo, mut hi) = (1, MAX_WIDTH);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if count(mid) < params { lo = mid + 1 } else { hi = mid }
        }
        if lo > 1 && params.abs_diff(count(lo - 1)) < params.abs_diff(count(lo)) { lo - 1 } else { lo }
    }
}

#[derive(Config, Debug, PartialEq)]
pub struct PoemModelConfig {
    /// Tokens in the vocabulary, specials included.
    pub vocab_size: usize,
    pub shape: ModelShape,
}

/// Every layer's state: `h` `[L, B, H]` and for the LSTM `c` `[L, B, H]`.
#[derive(Debug, Clone)]
pub struct State {
    pub h: Tensor<3>,
    pub c: Option<Tensor<3>>,
}

#[derive(Module, Debug)]
pub struct PoemModel {
    /// `[V, E]`
    pub embedding: Param<Tensor<2>>,
    pub layers: Vec<RecurrentLayer>,
    /// Tied models: `[H, E]`, projecting h into the embedding space.
    pub proj: Option<Param<Tensor<2>>>,
    /// Untied models: `[H, V]`.
    pub fc_weight: Option<Param<Tensor<2>>>,
    /// `[1, V]`
    pub fc_bias: Param<Tensor<2>>,
    pub dropout: Dropout,
}

impl PoemModelConfig {
    /// Initialises weights as PyTorch does (embedding N(0, 1); recurrent and output layers
    /// U(-1/sqrt(hidden), 1/sqrt(hidden))), from a seed, on the host, so every device starts alike.
    pub fn init(&self, device: &Device, seed: u64) -> PoemModel {
        let mut rng = StdRng::seed_from_u64(seed);
        let params = self
            .param_shapes()
            .into_iter()
            .map(|(name, shape)| {
                let values: Vec<f32> = if name == "embedding.weight" {
                    (0..shape[0] * shape[1]).map(|_| rng.sample(StandardNormal)).collect()
                } else {
                    let k = 1.0 / (self.shape.hidden as f32).sqrt();
                    (0..shape[0] * shape[1]).map(|_| rng.random_range(-k..k)).collect()
                };
                Tensor::from_data(TensorData::new(values, shape), device)
            })
            .collect();
        self.from_params(params)
    }

    /// Parameter names (PyTorch's, see `checkpoint`) and their shapes here, in a fixed order:
    /// embedding, each layer's four tensors, then the output layer (last, see `training`).
    pub fn param_shapes(&self) -> Vec<(String, [usize; 2])> {
        let s = &self.shape;
        let (e, h, v, gh) = (s.embedding, s.hidden, self.vocab_size, s.cell.gates() * s.hidden);
        let cell = s.cell.name();
        let mut shapes = vec![("embedding.weight".to_string(), [v, e])];
        for l in 0..s.layers {
            let d_in = if l == 0 { e } else { h };
            shapes.push((format!("{cell}.weight_ih_l{l}"), [d_in, gh]));
            shapes.push((format!("{cell}.weight_hh_l{l}"), [h, gh]));
            shapes.push((format!("{cell}.bias_ih_l{l}"), [1, gh]));
            shapes.push((format!("{cell}.bias_hh_l{l}"), [1, gh]));
        }
        if s.tied {
            shapes.push(("proj.weight".to_string(), [h, e]));
        } else {
            shapes.push(("fc.weight".to_string(), [h, v]));
        }
        shapes.push(("fc.bias".to_string(), [1, v]));
        shapes
    }

    /// Builds a model from tensors in `param_shapes` order.
    pub fn from_params(&self, params: Vec<Tensor<2>>) -> PoemModel {
        assert_eq!(params.len(), 3 + 4 * self.shape.layers, "parameter count");
        let mut it = params.into_iter().map(Param::from_tensor);
        let mut next = || it.next().expect("counted above");
        let embedding = next();
        let layers = (0..self.shape.layers)
            .map(|_| RecurrentLayer {
                weight_ih: next(),
                weight_hh: next(),
                bias_ih: next(),
                bias_hh: next(),
                cell: self.shape.cell,
            })
            .collect();
        let out = next();
        let (proj, fc_weight) = if self.shape.tied { (Some(out), None) } else { (None, Some(out)) };
        PoemModel {
            embedding,
            layers,
            proj,
            fc_weight,
            fc_bias: next(),
            dropout: DropoutConfig::new(self.shape.dropout).init(),
        }
    }

    pub fn num_params(&self) -> usize {
        self.param_shapes().iter().map(|(_, s)| s[0] * s[1]).sum()
    }
}

impl PoemModel {
    /// The parameters in `PoemModelConfig::param_shapes` order.
    pub fn params(&self) -> Vec<Tensor<2>> {
        let mut out = vec![self.embedding.val()];
        for layer in &self.layers {
            out.extend([layer.weight_ih.val(), layer.weight_hh.val(), layer.bias_ih.val(), layer.bias_hh.val()]);
        }
        out.extend(self.proj.iter().chain(&self.fc_weight).map(Param::val));
        out.push(self.fc_bias.val());
        out
    }

    pub fn cell(&self) -> Cell {
        self.layers[0].cell
    }

    pub fn hidden_size(&self) -> usize {
        self.layers[0].hidden_size()
    }

    /// The output layer as `(input projection, weight [K, V])`: for a tied model h is first
    /// projected to the embedding size and the weight is the transposed embedding.
    pub fn output_weight(&self) -> (Option<Tensor<2>>, Tensor<2>) {
        match (&self.proj, &self.fc_weight) {
            (Some(proj), _) => (Some(proj.val()), self.embedding.val().transpose()),
            (None, Some(fc)) => (None, fc.val()),
            (None, None) => unreachable!("from_params sets one of them"),
        }
    }

    /// - `tokens`: `[B, T]`; `state`: `None` for zeros
    /// - returns logits `[B, T, V]` and the final state
    pub fn forward(&self, tokens: Tensor<2, Int>, state: Option<State>) -> (Tensor<3>, State) {
        self.forward_probed(tokens, state, &mut Probes::default())
    }

    /// `forward` with probes on the last layer (see `Probes`).
    pub fn forward_probed(&self, tokens: Tensor<2, Int>, state: Option<State>, probes: &mut Probes) -> (Tensor<3>, State) {
        let [batch, t_len] = tokens.dims();
        let (hidden, finals) = self.hidden_states(tokens, state, probes); // [B*T, K]
        let logits = self.output_logits(hidden); // [B*T, V]
        let vocab = logits.dims()[1];
        (logits.reshape([batch, t_len, vocab]), finals)
    }

    /// The output layer: `hidden` `[N, K]` (from `hidden_states`) -> logits `[N, V]`.
    pub fn output_logits(&self, hidden: Tensor<2>) -> Tensor<2> {
        let (_, weight) = self.output_weight();
        hidden.matmul(weight) + self.fc_bias.val()
    }

    /// Everything before the output layer's weight (training works its gradients by hand).
    ///
    /// - `tokens`: `[B, T]`; `state`: `None` for zeros; `probes` apply to the last layer
    /// - returns the output layer's input batch-major `[B*T, K]` (K = H, or E when tied)
    ///   and the final state
    pub fn hidden_states(&self, tokens: Tensor<2, Int>, state: Option<State>, probes: &mut Probes) -> (Tensor<2>, State) {
        let [batch, t_len] = tokens.dims();
        let device = tokens.device();
        let (n_layers, d_h) = (self.layers.len(), self.hidden_size());
        let lstm = self.cell() == Cell::Lstm;
        // Zeros uploaded rather than filled on the device: a buffer write, not a compute
        // dispatch (dispatches are what a training step on WebGPU pays for).
        let zeros = || Tensor::<3>::from_data(burn::tensor::TensorData::new(vec![0.0f32; n_layers * batch * d_h], [n_layers, batch, d_h]), &device);
        let state = state.unwrap_or_else(|| State { h: zeros(), c: lstm.then(zeros) });
        let layer_slice = |t: &Tensor<3>, l: usize| t.clone().narrow(0, l, 1).reshape([batch, d_h]);
        // Time-major so each step's slice is contiguous: [T, B, E]
        let mut x = embedding(self.embedding.val(), tokens.swap_dims(0, 1));
        let (mut finals_h, mut finals_c) = (Vec::with_capacity(n_layers), Vec::new());
        let mut no_probes = Probes::default();
        for (l, layer) in self.layers.iter().enumerate() {
            if l > 0 {
                x = self.dropout.forward(x);
            }
            let start = LayerState { h: layer_slice(&state.h, l), c: state.c.as_ref().map(|c| layer_slice(c, l)) };
            let layer_probes = if l + 1 == n_layers { &mut *probes } else { &mut no_probes };
            let (out, last) = layer.forward(x, start, layer_probes); // [T, B, H]
            x = out;
            finals_h.push(last.h);
            finals_c.extend(last.c);
        }
        let mut hidden = x.swap_dims(0, 1).reshape([batch * t_len, d_h]); // [B*T, H]
        if let (Some(proj), _) = self.output_weight() {
            hidden = hidden.matmul(proj); // [B*T, E]
        }
        let c = (!finals_c.is_empty()).then(|| Tensor::stack(finals_c, 0));
        (hidden, State { h: Tensor::stack(finals_h, 0), c })
    }
}
