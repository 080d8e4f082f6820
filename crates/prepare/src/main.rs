//! `shige-prepare`: what `shige prepare` does, without the model crates, so set-up prepares the
//! built-in corpus in seconds instead of waiting for the CLI's build.

use clap::Parser;

#[derive(Parser)]
#[command(about = "Builds a corpus from the npm package chinese-poetry (全唐诗 / 全宋诗, simplified)")]
struct Cli {
    #[command(flatten)]
    args: shige_prepare::PrepareArgs,
}

fn main() -> anyhow::Result<()> {
    shige_prepare::run(Cli::parse().args)
}
