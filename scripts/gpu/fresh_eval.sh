# Sourced by the GPU scripts. fresh_eval MODEL_DIR EVAL_DIR succeeds when EVAL_DIR holds a finished evaluation newer
# than every file of MODEL_DIR. A device machine can keep an earlier session's /tmp (seen on 2026-12-02): an
# OUT/eval-* left from then must not pass for an evaluation of this session's model of the same name.
fresh_eval() {
    [ -f "$2/eval.json" ] && [ -d "$1" ] && [ -z "$(find "$1" -newer "$2/eval.json" -print -quit)" ]
}
