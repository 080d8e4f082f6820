#!/usr/bin/env bash
# Issue 30's four-cell table (not a test): RNN, LSTM, GRU and the Transformer at ~2.5 M parameters
# on poems.txt, the CLI on this machine's cores, one run at a time.
#   sweep [MINUTES [NAME...]]  each cell's candidates (below; or only the NAMEs) for MINUTES
#                    (default 2); prints the held-out loss of each and keeps the best per cell in
#                    $SHIGE_CACHE/four-cells/best.
#   table [MINUTES]  each cell's best for MINUTES (default 30), then `shige eval` (held-out loss,
#                    well-formed, copies, 格律 of 七绝 written without the meter) and samples;
#                    prints the table (bench/four_cells_table.py).
# Every run has the CLI's default recipe (wsd: warm-up 200 steps, the peak held for 55 % of the
# run, then a linear decay to 5 %; output dropout 0.3; batch 32) apart from the swept flags.
# The output layer (hidden or embedding x vocabulary) dominates the recurrent cells' count, so
# their hidden size is what differs; the Transformer's blocks are 12·E² each.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
mode=${1:?usage: bench/four_cells.sh sweep [MINUTES [NAME...]] | table [MINUTES]}
rnn="--cell rnn --hidden 286" lstm="--cell lstm --hidden 244" gru="--cell gru --hidden 256"
transformer="--cell transformer --heads 4"
# The short sweep, "cell name flags": the peak learning rate for every cell, and for the
# Transformer a wider, shallower shape of the same count too (embedding 224, 2 blocks).
SWEEP=(
  "rnn rnn-lr2e-3 $rnn --lr 2e-3" "rnn rnn-lr3e-3 $rnn --lr 3e-3"
  "lstm lstm-lr2e-3 $lstm --lr 2e-3" "lstm lstm-lr3e-3 $lstm --lr 3e-3"
  "gru gru-lr2e-3 $gru --lr 2e-3" "gru gru-lr3e-3 $gru --lr 3e-3"
  "transformer transformer-lr1e-3 $transformer --embedding 192 --layers 3 --lr 1e-3"
  "transformer transformer-lr2e-3 $transformer --embedding 192 --layers 3 --lr 2e-3"
  "transformer transformer-e224-l2-lr1e-3 $transformer --embedding 224 --layers 2 --lr 1e-3"
)
cargo build --release -q -p shige-cli
shige=$CARGO_TARGET_DIR/release/shige
out=$SHIGE_CACHE/four-cells
mkdir -p "$out/sweep"
loss() { sed -n 's/.*validation loss \([0-9.]*\).*/\1/p' "$1" | tail -n 1; }
case $mode in
  sweep)
    minutes=${2:-2}
    only=" ${*:3} "
    for entry in "${SWEEP[@]}"; do
      set -- $entry
      cell=$1 name=$2; shift 2
      [ "$only" = "  " ] || [[ $only == *" $name "* ]] || continue
      say "sweep $name: $* for $minutes minutes"
      "$shige" train --corpus "$SHIGE_DATA/poems.txt" --minutes "$minutes" "$@" \
        --eval-every 100000 --out "$out/sweep/$name.ckpt" --force >"$out/sweep/$name.log" 2>&1
      echo "$cell $name $(loss "$out/sweep/$name.log") $*" | tee -a "$out/sweep/results.txt"
    done
    # The best (lowest held-out loss) per cell, from each name's latest result: "cell flags..."
    # lines for the table.
    tac "$out/sweep/results.txt" | awk '!seen[$2]++' | sort -k1,1 -k3,3g | awk '!best[$1]++ { $2 = $3 = ""; print }' |
      tr -s ' ' | tee "$out/best"
    ;;
  table)
    minutes=${2:-30}
    [ -s "$out/best" ] || { echo "run the sweep first: bash bench/four_cells.sh sweep" >&2; exit 2; }
    while read -r cell flags; do
      run=$out/$cell
      say "$cell: $flags for $minutes minutes"
      # shellcheck disable=SC2086
      "$shige" train --corpus "$SHIGE_DATA/poems.txt" --minutes "$minutes" $flags \
        --out "$run.ckpt" --log "$run.csv" --eval-every 1000 --save-every 1000 --force >"$run.log" 2>&1 </dev/null
      tail -n 1 "$run.log"
      # 200 poems a figure: free, 五绝, 七绝 (its 格律 rate is the table's "free 七绝") and 七绝 with rhyme.
      "$shige" eval --model "$run.ckpt" --corpus "$SHIGE_DATA/poems.txt" --samples 200 --json >"$run.eval.json" </dev/null
      { "$shige" generate --model "$run.ckpt" --start 日红山夜湖海月
        "$shige" generate --model "$run.ckpt" --start 日红山夜湖海月 --form qijue; } >"$run.samples" </dev/null
    done <"$out/best"
    python3 bench/four_cells_table.py "$out"
    ;;
  *) echo "usage: bench/four_cells.sh sweep [MINUTES [NAME...]] | table [MINUTES]" >&2; exit 2 ;;
esac
