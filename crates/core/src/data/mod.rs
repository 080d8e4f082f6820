//! The data's way in: a dropped file cleaned into poems (`corpus`), characters numbered
//! (`vocab`), poems encoded and cut into padded batches (`batch`). Uses nothing else in the crate.

pub mod batch;
pub mod corpus;
pub mod vocab;
