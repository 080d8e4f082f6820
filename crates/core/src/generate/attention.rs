//! What a Transformer looked at while writing a poem: each layer's and head's attention over BOS
//! and the poem's characters, for the page's internals panel.

use serde::Serialize;

use super::GenerateError;
use crate::data::vocab::{BOS, Vocab};
use crate::model::{AttentionMaps, PoemModel};

/// A poem's attention, `maps.weights[layer][head][i][j]`: how much position i (reading
/// `chars[i]`, choosing the next character) looked at position j ≤ i.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoemAttention {
    /// The characters read, BOS first (`None`); for a poem longer than the block size, its last
    /// `block_size` positions.
    pub chars: Vec<Option<char>>,
    pub maps: AttentionMaps,
}

/// The attention of `model` over `text` as the writer read it (BOS, then the characters; the
/// last character is read too, as the step that chose the end). `None` for a recurrent cell.
pub async fn poem_attention(model: &PoemModel, vocab: &Vocab, text: &str) -> Result<Option<PoemAttention>, GenerateError> {
    let mut tokens = vec![BOS];
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        tokens.push(vocab.id(c).ok_or(GenerateError::UnknownChar(c))?);
    }
    let Some(maps) = model.attention_maps(&tokens).await? else { return Ok(None) };
    let chars = maps.tokens.iter().map(|&t| if t == BOS { None } else { vocab.char_of(t) }).collect();
    Ok(Some(PoemAttention { chars, maps }))
}
