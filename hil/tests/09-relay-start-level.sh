# timeout: 120
# At start-up the daemon requests the relay line already at its locked level: no glitch to the unlocked
# level, however short, before its first lock. The kernel's own gpio tracepoints record every level a
# program drives on a line, the request's initial value included, so the test reads what was driven
# instead of sampling the line. `facegate run` is started with an empty models folder: the relay is
# requested before the models, then released again when they are missing (exit 78), never driven unlocked
# (a fail-safe relay's release is its resting level, unlocked, as when facegate dies).
gpio_sim_chip door relay contact exit
gpio_trace_relay
work=/tmp/relay-start-level
rm -rf $work && mkdir -p $work/models
runs=0

# Runs `facegate run` on a configuration whose `door:` section is $1 (its lines, indented), with the relay's
# levels traced; sets `code` (the exit status) and `driven` (every level driven on the relay, in order:
# "0 1 ...").
run_traced() {
    cat >$work/facegate.yaml <<EOF
models: $work/models
camera: {source: replay, replay_path: $work}
control: {socket: off}
liveness: {enabled: false}
journal: {path: $work/journal.sqlite}
door:
$1
EOF
    runs=$((runs + 1))
    mark="facegate-start-level-run-$runs"
    echo "$mark" >$tracing/trace_marker
    facegate run --config $work/facegate.yaml >$work/run.log 2>&1
    code=$?
    driven=$(relay_levels_since "$mark")
}

# $1 = door.fail_safe, $2 = the relay's active_low, $3 = the raw level that locks, $4 = the raw level
# the line is left at when released (de-energised), $5 = a name for the wiring.
start_and_trace() {
    run_traced "  relay: {chip: $SIM_CHIP, line: relay, active_low: $2}
  fail_safe: $1"
    expect_eq "$code" 78 "$5: exit status with the models missing ($(tail -1 $work/run.log | cut -c1-200))"
    grep "refusing to start" $work/run.log | grep -q "key=models" || fail "$5: not refused for the models: $(tail -2 $work/run.log)"
    echo "$5: levels driven on the relay: $driven"
    [ -n "$driven" ] || fail "$5: the relay line was never driven (was it requested?)"
    # Exactly two: the request's own level (locked), then the level it is released at (de-energised).
    expect_eq "$driven" "$3 $4 " "$5: the levels driven (request, release)"
}

# An electric strike (fail-secure), relay active-high: locked is 0, and it rests at 0.
start_and_trace false false 0 0 "fail-secure"
# A maglock (fail-safe), active-high: locked is 1 (energised); released at 0, so it rests unlocked as
# it does when facegate dies. Driving 1 at the request is the lock, not a glitch.
start_and_trace true false 1 0 "fail-safe"
# A fail-secure relay on an active-low driver: locked (de-energised) is a high line, and so is rest.
start_and_trace false true 1 1 "fail-secure active-low"

# The contact's line, wrong or held by another process. $1 = door.fail_safe, $2 = the contact's line name,
# $3 = the expected exit, $4 = the levels the relay must be driven to, $5 = a name for the case.
contact_case() {
    run_traced "  relay: {chip: $SIM_CHIP, line: relay}
  contact: {chip: $SIM_CHIP, line: $2}
  fail_safe: $1"
    expect_eq "$code" "$3" "$5: exit status ($(tail -1 $work/run.log | cut -c1-200))"
    refusal=$(grep "start" $work/run.log | grep "key=door.contact")
    echo "$5: $refusal" | cut -c1-240
    [ -n "$refusal" ] || fail "$5: the contact's key is not named: $(tail -2 $work/run.log)"
    ! echo "$refusal" | grep -q -e "$SIM_CHIP" || fail "$5: the refusal names the chip from the file: $refusal"
    # (A line called "contact" is named by its key anyway; a made-up name must not come back.)
    [ "$2" = contact ] || ! echo "$refusal" | grep -q -e "$2" || fail "$5: the refusal names the line from the file: $refusal"
    expect_eq "$driven" "$4" "$5: the levels driven on the relay"
}

# A line the chip does not have: the configuration's problem (78), found before the relay is requested,
# so the relay is never driven at all.
contact_case false no-such-line 78 "" "missing contact line"
# The contact held by another process: the relay, already requested, is let go de-energised (fail-secure
# 0 then 0; fail-safe 1, locked, then 0), and the start fails for systemd to try again (1).
facegate door watch --chip "$SIM_CHIP" --contact contact >/dev/null 2>&1 &
holder=$!
sleep 1
contact_case false contact 1 "0 0 " "busy contact, fail-secure"
contact_case true contact 1 "1 0 " "busy contact, fail-safe"
kill $holder; wait $holder 2>/dev/null || true

# The contact on the relay's own line, spelt another way (the chip by number, the line by offset): one
# line named for two roles is the file's problem (78), found before any line is requested (before: the
# contact's request failed as busy, read as another process holding it: exit 1, a restart loop).
run_traced "  relay: {chip: $SIM_CHIP, line: relay}
  contact: {chip: ${SIM_CHIP#gpiochip}, line: 0}
  fail_safe: false"
expect_eq "$code" 78 "the contact on the relay's line: exit status ($(tail -1 $work/run.log | cut -c1-200))"
refusal=$(grep "start" $work/run.log | grep "key=door.contact")
echo "$refusal" | grep -q "same GPIO line as the relay" || fail "the contact on the relay's line: not said: $(tail -2 $work/run.log)"
expect_eq "$driven" "" "the contact on the relay's line: the levels driven"
echo "the contact on the relay's line by number and offset: refused, relay never driven"
