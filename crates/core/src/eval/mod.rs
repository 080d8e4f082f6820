//! Judging what a model writes: how often its poems are well-formed verse, rhyme and are new
//! (`quality`), and whether a line was copied from the training poems (`novelty`). The top
//! layer: uses `generate`, `model`, `data` and `text`.

pub mod novelty;
pub mod quality;
