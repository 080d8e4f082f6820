#!/usr/bin/env bash
# The recipe search (issue 12) and the classroom's three cells (issue 9): each recipe trains for
# the same budget on poems.txt on this machine; its held-out loss curve (Tang validation split),
# a Song set of another era, chars/s and samples are collected into one table. The cells run
# at about equal parameter counts (2.6 M: the output layer, hidden x vocabulary, dominates).
# Not part of the tests (30 minutes per recipe).
# Usage: bash bench/recipes.sh [--minutes M] [--tag T [--resume [--anneal]]] RECIPE...   (names below;
# `all` runs the 30-minute table's recipes, `cells` the three cells; h512-dropout is the long run's)
# --tag T writes NAME-T.* instead of NAME.* (a longer run beside the 30-minute one); --resume
# continues NAME-T.ckpt for M more minutes and appends to its curve (the steps replay exactly:
# batches and dropout masks follow the seed and the step), so a long run can span sessions;
# --anneal makes that last stretch decay the rate linearly to 5 % (a constant run, then a
# decay: a schedule that needs no run length fixed in advance).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
# A constant rate, the one schedule a resumed run continues exactly.
steady="--schedule constant --warmup-steps 0"
# Linear decay to 5 %, from --decay-from on.
decaying="--schedule linear --lr-final-ratio 0.05"
minutes=30 tag="" resume=0 schedule=$steady
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --tag) tag=-$2; shift 2 ;;
    --resume) resume=1; shift ;;
    --anneal) schedule="$decaying --warmup-steps 0 --decay-from 0"; shift ;;
    *) break ;;
  esac
done
[ $resume = 0 ] || [ -n "$tag" ] || { echo "--resume continues a tagged run: give --tag" >&2; exit 2; }
# The CLI's defaults changed with this search (now: wsd's flags). The recipes run before that
# are spelled out against the old defaults (constant 2e-3, no output dropout, decay from the
# start), so they re-run the same.
constant="--lr 2e-3 $steady"
old="$constant --output-dropout 0"
cosine="--lr 3e-3 --warmup-steps 200 --schedule cosine --lr-final-ratio 0.05 --decay-from 0"
declare -A RECIPES=(
  [base]="$old"                                                # embedding 128, GRU 256, batch 32, lr 2e-3
  [h512]="$old --hidden 512"
  [layers2]="$old --layers 2 --dropout 0.2"
  [tied]="$old --tied"
  [tied-wide]="$old --tied --embedding 256 --hidden 512"
  [cosine]="$cosine --output-dropout 0"
  [cosine-dropout]="$cosine --output-dropout 0.3"
  [h512-cosine-dropout]="--hidden 512 $cosine --output-dropout 0.3"
  [dropout]="$constant --output-dropout 0.3"                   # the page's defaults (no run length to decay over)
  [dropout-anneal]="--lr 2e-3 --warmup-steps 0 $decaying --decay-from 0.65 --output-dropout 0.3" # dropout's rate, annealed over the last 35 %
  [wsd]="--lr 3e-3 --warmup-steps 200 $decaying --decay-from 0.55 --output-dropout 0.3" # cosine-dropout's peak, held for 55 %, then annealed
  [h512-dropout]="$constant --output-dropout 0.3 --hidden 512"  # the page's recipe, twice as wide: the 3-hour candidate
  [tied-wide-dropout]="$constant --output-dropout 0.3 --tied --embedding 256 --hidden 512" # a wide GRU, the output layer's cost of GRU 256
  [defaults]=""                                                # today's CLI defaults
  [batch64]="$steady --output-dropout 0 --batch-size 64 --lr 3e-3"
  [batch16]="$old --batch-size 16"
  [lstm]="$old --cell lstm --hidden 244"
  [rnn]="$old --cell rnn --hidden 286"
)
names=("$@")
[ "${names[0]:-}" = all ] && names=(base lstm rnn h512 layers2 tied tied-wide cosine cosine-dropout h512-cosine-dropout dropout dropout-anneal wsd tied-wide-dropout defaults batch64 batch16)
[ "${names[0]:-}" = cells ] && names=(base lstm rnn)
[ ${#names[@]} -gt 0 ] || { echo "usage: bench/recipes.sh [--minutes M] [--tag T [--resume [--anneal]]] RECIPE... (${!RECIPES[*]}, all, cells)" >&2; exit 2; }
cargo build --release -q -p shige-cli
shige=$CARGO_TARGET_DIR/release/shige
out=$SHIGE_CACHE/recipes
mkdir -p "$out"
song=$SHIGE_CACHE/song-heldout.txt
if [ ! -s "$song" ]; then
  # Song poems (全宋诗, another era) as a held-out set: built here, never committed.
  "$shige" prepare --from assets/node_modules/chinese-poetry/dist/quantangshi --era song --every 25 --out "$song"
fi
for name in "${names[@]}"; do
  [ -n "${RECIPES[$name]+set}" ] || { echo "unknown recipe $name" >&2; exit 2; }
  run=$out/$name$tag
  if [ $resume = 1 ]; then
    # The checkpoint keeps the shape, the peak learning rate and the dropout, not the schedule:
    # a decaying one spans one run, so only constant-rate recipes continue exactly.
    case " ${RECIPES[$name]} " in
      *" $steady "*) ;;
      *) echo "$name decays its learning rate over one run: it cannot be resumed exactly" >&2; exit 2 ;;
    esac
    say "$name$tag: resumed for $minutes more minutes ($schedule)"
    # shellcheck disable=SC2086
    "$shige" train --corpus "$SHIGE_DATA/poems.txt" --minutes "$minutes" --resume "$run.ckpt" $schedule \
      --out "$run.ckpt" --log "$run.csv" --eval-every 1000 --save-every 1000 2>&1 | tail -n 1 | tee "$run.result"
  else
    say "$name$tag: ${RECIPES[$name]:-(defaults)} for $minutes minutes"
    rm -f "$run.csv"
    # shellcheck disable=SC2086
    "$shige" train --corpus "$SHIGE_DATA/poems.txt" --minutes "$minutes" ${RECIPES[$name]} \
      --out "$run.ckpt" --log "$run.csv" --eval-every 1000 --save-every 1000 --force 2>&1 | tail -n 1 | tee "$run.result"
  fi
  "$shige" eval --model "$run.ckpt" --corpus "$song" --whole --samples 0 --json >"$run.song.json"
  { "$shige" generate --model "$run.ckpt" --start 日红山夜湖海月
    "$shige" generate --model "$run.ckpt" --start 日红山夜湖海月 --form wujue; } >"$run.samples"
done
python3 bench/recipes_table.py "$out" "$minutes" "${names[@]/%/$tag}"
