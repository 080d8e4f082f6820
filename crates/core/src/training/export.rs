//! A checkpoint's weights under PyTorch's names and layouts, with the config a PyTorch script
//! needs to build the model: `nn.Embedding` / `nn.RNN` / `nn.LSTM` / `nn.GRU` / `nn.Linear` for the
//! recurrent cells, nanoGPT's `GPT` state dict and `GPTConfig` for the Transformer
//! (`bench/pytorch_check.py` and `bench/nanogpt.py` load them).

use std::collections::HashMap;

use safetensors::Dtype;

use super::checkpoint::{Checkpoint, StoredView, f32_bytes};
use crate::model::Cell;

impl Checkpoint {
    /// Weights under PyTorch names and layouts. Recurrent cells (`nn.Embedding`, `nn.RNN` /
    /// `nn.LSTM` / `nn.GRU`, `nn.Linear`): recurrent weights `[gates * H, I]`, biases
    /// `[gates * H]`, `fc.weight` `[V, H]`; a tied model exports `fc.weight = embedding · projᵀ`,
    /// so the same PyTorch module loads every model. The Transformer: nanoGPT's state dict,
    /// Linear weights `[out, in]`, biases and LayerNorms `[d]`, and `lm_head.weight` (= `wte`,
    /// tied: nanoGPT's state dict lists it).
    pub fn to_pytorch_safetensors(&self) -> Vec<u8> {
        let shapes = self.model.param_shapes();
        let transformer = self.model.shape.cell == Cell::Transformer;
        let mut owned: Vec<(String, Vec<f32>, Vec<usize>)> = Vec::new();
        for ((name, [rows, cols]), values) in shapes.iter().zip(&self.params) {
            let (rows, cols) = (*rows, *cols);
            if name == "embedding.weight" || name == "transformer.wte.weight" || name == "transformer.wpe.weight" {
                // nn.Embedding's layout is ours: [tokens, E]
                owned.push((name.clone(), values.clone(), vec![rows, cols]));
            } else if name == "proj.weight" {
                // [V, E] @ [E, H]: the embedding times the projection's transpose.
                let (embedding, (v, e, h)) = (&self.params[0], (self.model.vocab_size, cols, rows));
                let mut fc = vec![0.0f32; v * h];
                for (row, out) in embedding.chunks_exact(e).zip(fc.chunks_exact_mut(h)) {
                    for (k, &x) in row.iter().enumerate() {
                        for (j, o) in out.iter_mut().enumerate() {
                            *o += x * values[j * e + k];
                        }
                    }
                }
                owned.push(("fc.weight".into(), fc, vec![v, h]));
            } else if rows == 1 {
                owned.push((name.clone(), values.clone(), vec![cols]));
            } else {
                owned.push((name.clone(), transpose(values, rows, cols), vec![cols, rows]));
            }
        }
        if transformer {
            let shape = vec![self.model.vocab_size, self.model.shape.embedding];
            owned.push(("lm_head.weight".into(), self.params[0].clone(), shape));
        }
        let tensors = owned.iter().map(|(n, v, s)| (n.clone(), StoredView { dtype: Dtype::F32, shape: s.clone(), bytes: f32_bytes(v) }));
        let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
        safetensors::serialize(tensors, Some(metadata)).expect("in-memory serialisation")
    }

    /// The export's `config.json`: the model config as saved (`vocab_size`, `shape`), and for the
    /// Transformer also nanoGPT's `GPTConfig` fields (`block_size`, `vocab_size`, `n_layer`,
    /// `n_head`, `n_embd`, `dropout`, `bias`).
    pub fn pytorch_config(&self) -> serde_json::Value {
        let mut config = serde_json::to_value(&self.model).expect("plain data");
        let s = &self.model.shape;
        if s.cell == Cell::Transformer {
            let fields = config.as_object_mut().expect("a struct");
            for (key, value) in [
                ("block_size", serde_json::json!(s.block_size)),
                ("n_layer", serde_json::json!(s.layers)),
                ("n_head", serde_json::json!(s.heads)),
                ("n_embd", serde_json::json!(s.embedding)),
                ("dropout", serde_json::json!(s.dropout)),
                ("bias", serde_json::json!(s.bias)),
            ] {
                fields.insert(key.to_string(), value);
            }
        }
        config
    }
}

fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}
