#!/bin/sh
# Train the two chapter-8b models one after the other on one CPU thread, resuming each from
# training_state/<name>.resume.pt when it is there. Run from the repository root:
#   nohup sh training_state/run.sh > /dev/null 2>&1 &
# The second model starts only when the first has finished (written its checkpoint).
cd "$(dirname "$0")/.." || exit 1
export OMP_NUM_THREADS=1 COURSE_PROGRESS=0 PYTHONUNBUFFERED=1
for name in iwae-binary-mnist vampprior-binary-mnist; do
    .venv/bin/python -m course_lib pretrain "$name" --profile full --resume-dir training_state --threads 1 \
        >> "training_state/$name.log" 2>&1 || exit $?
done
