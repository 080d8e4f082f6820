//! The poem model: Embedding -> a sequence model -> Linear over the vocabulary. The sequence
//! model is a recurrent cell (PyTorch `nn.RNN` / `nn.LSTM` / `nn.GRU` semantics, `recurrent`;
//! the output layer optionally tied to the embedding) or nanoGPT's Transformer (`transformer`;
//! always tied, no output bias). `shape` holds the settings and their checks. Uses `kernels` (the
//! fused GRU layer) and `readback`.

pub mod recurrent;
pub mod shape;
pub mod transformer;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::module::embedding;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;

pub use recurrent::{LayerState, Probes, RecurrentLayer};
pub use shape::{Cell, MAX_BLOCK_SIZE, MAX_LAYERS, MAX_PARAMS, MAX_WIDTH, ModelShape};
pub use transformer::{AttentionMaps, Context, Transformer};

#[derive(Config, Debug, PartialEq)]
pub struct PoemModelConfig {
    /// Tokens in the vocabulary, specials included.
    pub vocab_size: usize,
    pub shape: ModelShape,
}

/// What a model carries from one call to the next. Recurrent cells: every layer's `h`
/// `[L, B, H]` and for the LSTM `c` `[L, B, H]`. The Transformer: each block's output at the last
/// position `[L, B, E]` in `h` (what the trace shows), and the context it has read.
#[derive(Debug, Clone)]
pub struct State {
    pub h: Tensor<3>,
    pub c: Option<Tensor<3>>,
    pub context: Option<Context>,
}

#[derive(Module, Debug)]
pub struct PoemModel {
    /// `[V, E]` (the Transformer's `wte`)
    pub embedding: Param<Tensor<2>>,
    /// The recurrent cells' layers; empty for the Transformer.
    pub layers: Vec<RecurrentLayer>,
    /// The Transformer's positions, blocks and final LayerNorm.
    pub transformer: Option<Transformer>,
    /// Tied recurrent models: `[H, E]`, projecting h into the embedding space.
    pub proj: Option<Param<Tensor<2>>>,
    /// Untied models: `[H, V]`.
    pub fc_weight: Option<Param<Tensor<2>>>,
    /// `[1, V]`; the Transformer has none (nanoGPT's `lm_head` has no bias).
    pub fc_bias: Option<Param<Tensor<2>>>,
    pub dropout: Dropout,
}

impl PoemModelConfig {
    /// Initialises weights from a seed, on the host, so every device starts alike: as PyTorch
    /// does for the recurrent cells (embedding N(0, 1); recurrent and output layers
    /// U(-1/sqrt(hidden), 1/sqrt(hidden))), as nanoGPT does for the Transformer.
    pub fn init(&self, device: &Device, seed: u64) -> PoemModel {
        self.from_params(self.init_params(device, seed))
    }

    /// `init`'s weights as the trainer keeps them (`param_shapes` order).
    pub fn init_params(&self, device: &Device, seed: u64) -> Vec<Tensor<2>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let s = &self.shape;
        self.param_shapes()
            .into_iter()
            .map(|(name, shape)| {
                let n = shape[0] * shape[1];
                let values: Vec<f32> = if s.cell == Cell::Transformer {
                    transformer::init_values(&name, n, s.layers, &mut rng)
                } else if name == "embedding.weight" {
                    (0..n).map(|_| rng.sample(StandardNormal)).collect()
                } else {
                    let k = 1.0 / (s.hidden as f32).sqrt();
                    (0..n).map(|_| rng.random_range(-k..k)).collect()
                };
                Tensor::from_data(TensorData::new(values, shape), device)
            })
            .collect()
    }

    /// Whether the output layer scores with the transposed embedding (the Transformer always).
    pub fn tied_output(&self) -> bool {
        self.shape.tied || self.shape.cell == Cell::Transformer
    }

    /// Whether the output layer has a bias (the last parameter); the Transformer's has none.
    pub fn output_bias(&self) -> bool {
        self.shape.cell != Cell::Transformer
    }

    /// Parameter names (PyTorch's, or nanoGPT's state dict for the Transformer; see
    /// `checkpoint`) and their shapes here, in a fixed order: the embedding first, the output
    /// layer's own tensors last (see `training`): a projection or weight, then the bias. The
    /// Transformer's output layer is the embedding, so it has none.
    pub fn param_shapes(&self) -> Vec<(String, [usize; 2])> {
        let s = &self.shape;
        let (e, h, v, gh) = (s.embedding, s.hidden, self.vocab_size, s.cell.gates() * s.hidden);
        if s.cell == Cell::Transformer {
            return transformer::param_shapes(v, s);
        }
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
        assert_eq!(params.len(), self.param_shapes().len(), "parameter count");
        let mut it = params.into_iter();
        let embedding = Param::from_tensor(it.next().expect("counted above"));
        let dropout = DropoutConfig::new(self.shape.dropout).init();
        if self.shape.cell == Cell::Transformer {
            let transformer = Some(transformer::from_params(&self.shape, &mut it));
            return PoemModel { embedding, layers: Vec::new(), transformer, proj: None, fc_weight: None, fc_bias: None, dropout };
        }
        let mut next = || Param::from_tensor(it.next().expect("counted above"));
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
        PoemModel { embedding, layers, transformer: None, proj, fc_weight, fc_bias: Some(next()), dropout }
    }

    pub fn num_params(&self) -> usize {
        self.param_shapes().iter().map(|(_, s)| s[0] * s[1]).sum()
    }
}

impl PoemModel {
    /// The parameters in `PoemModelConfig::param_shapes` order.
    pub fn params(&self) -> Vec<Tensor<2>> {
        let mut out = vec![self.embedding.val()];
        if let Some(t) = &self.transformer {
            out.extend(t.params());
        }
        for layer in &self.layers {
            out.extend([layer.weight_ih.val(), layer.weight_hh.val(), layer.bias_ih.val(), layer.bias_hh.val()]);
        }
        out.extend(self.proj.iter().chain(&self.fc_weight).chain(&self.fc_bias).map(Param::val));
        out
    }

    pub fn cell(&self) -> Cell {
        match self.layers.first() {
            Some(layer) => layer.cell,
            None => Cell::Transformer,
        }
    }

    /// The width of the state `Probes::hidden` sees: the last layer's h, or the Transformer's
    /// embedding (its residual stream).
    pub fn hidden_size(&self) -> usize {
        match self.layers.first() {
            Some(layer) => layer.hidden_size(),
            None => self.embedding.dims()[1],
        }
    }

    /// The output layer as `(input projection, weight [K, V])`: for a tied model h is first
    /// projected to the embedding size (not the Transformer's) and the weight is the
    /// transposed embedding.
    pub fn output_weight(&self) -> (Option<Tensor<2>>, Tensor<2>) {
        match (&self.proj, &self.fc_weight) {
            (Some(proj), _) => (Some(proj.val()), self.embedding.val().transpose()),
            (None, Some(fc)) => (None, fc.val()),
            (None, None) => (None, self.embedding.val().transpose()),
        }
    }

    /// The output layer's bias `[1, V]`: zeros, uploaded and not a parameter, for a model
    /// without one (the output kernels take a bias).
    pub fn output_bias(&self) -> Tensor<2> {
        match &self.fc_bias {
            Some(bias) => bias.val(),
            None => {
                let v = self.embedding.dims()[0];
                Tensor::from_data(TensorData::new(vec![0.0f32; v], [1, v]), &self.embedding.device())
            }
        }
    }

    /// - `tokens`: `[B, T]`; `state`: `None` for zeros (the Transformer: nothing read yet)
    /// - returns logits `[B, T, V]` and the final state (the Transformer, past its block size:
    ///   the last `block_size` positions only, see `Transformer::hidden_states`)
    pub fn forward(&self, tokens: Tensor<2, Int>, state: Option<State>) -> (Tensor<3>, State) {
        self.forward_probed(tokens, state, &mut Probes::default())
    }

    /// `forward` with probes on the last layer (see `Probes`).
    pub fn forward_probed(&self, tokens: Tensor<2, Int>, state: Option<State>, probes: &mut Probes) -> (Tensor<3>, State) {
        let batch = tokens.dims()[0];
        let (hidden, finals) = self.hidden_states(tokens, state, probes); // [B*T, K]
        let logits = self.output_logits(hidden); // [B*T, V]
        let [positions, vocab] = logits.dims();
        (logits.reshape([batch, positions / batch, vocab]), finals)
    }

    /// The output layer: `hidden` `[N, K]` (from `hidden_states`) -> logits `[N, V]`.
    pub fn output_logits(&self, hidden: Tensor<2>) -> Tensor<2> {
        let (_, weight) = self.output_weight();
        let logits = hidden.matmul(weight);
        match &self.fc_bias {
            Some(bias) => logits + bias.val(),
            None => logits, // the Transformer's lm_head has no bias, as nanoGPT's
        }
    }

    /// Everything before the output layer's weight (training works its gradients by hand).
    ///
    /// - `tokens`: `[B, T]`; `state`: `None` for zeros; `probes` apply to the last layer (the
    ///   Transformer: see `Transformer::hidden_states`)
    /// - returns the output layer's input batch-major `[B*T, K]` (K = H, or E when tied or for
    ///   the Transformer) and the final state
    pub fn hidden_states(&self, tokens: Tensor<2, Int>, state: Option<State>, probes: &mut Probes) -> (Tensor<2>, State) {
        if let Some(t) = &self.transformer {
            return t.hidden_states(self.embedding.val(), tokens, state.and_then(|s| s.context), probes);
        }
        let [batch, t_len] = tokens.dims();
        let device = tokens.device();
        let (n_layers, d_h) = (self.layers.len(), self.hidden_size());
        let lstm = self.cell() == Cell::Lstm;
        // Zeros uploaded rather than filled on the device: a buffer write, not a compute
        // dispatch (dispatches are what a training step on WebGPU pays for).
        let zeros = || Tensor::<3>::from_data(burn::tensor::TensorData::new(vec![0.0f32; n_layers * batch * d_h], [n_layers, batch, d_h]), &device);
        let state = state.unwrap_or_else(|| State { h: zeros(), c: lstm.then(zeros), context: None });
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
        (hidden, State { h: Tensor::stack(finals_h, 0), c, context: None })
    }

    /// The Transformer's attention over `tokens` (see `AttentionMaps`); `None` for a recurrent
    /// cell, which has none.
    pub async fn attention_maps(&self, tokens: &[usize]) -> Result<Option<AttentionMaps>, crate::readback::ReadError> {
        match &self.transformer {
            Some(t) => Ok(Some(transformer::attention_maps(self.embedding.val(), t, tokens).await?)),
            None => Ok(None),
        }
    }
}
