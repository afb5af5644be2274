# timeout: 120
# `facegate door rest`, the unit's ExecStopPost (after every stop, kill -9 included): drives the relay to
# its resting level, de-energised, and lets it go. The kernel frees a dead process's line, but some chips
# keep driving a freed output at its last level; gpio-sim is not one of them (a freed line falls to its
# pull, whatever was driven), so the test reads what `door rest` drove from the kernel's gpio tracepoint.
gpio_sim_chip door relay contact exit
gpio_trace_relay
work=/tmp/relay-rest
rm -rf $work && mkdir -p $work
runs=0

# `facegate door rest` on a file whose `door:` section is $1; sets `code` and `driven` (the levels it
# drove on the relay, in order).
rest() {
    printf 'door:\n%s\n' "$1" >$work/facegate.yaml
    runs=$((runs + 1))
    mark="facegate-relay-rest-run-$runs"
    echo "$mark" >$tracing/trace_marker
    facegate door rest --config $work/facegate.yaml >$work/rest.log 2>&1
    code=$?
    driven=$(relay_levels_since "$mark")
    ! grep -q -e "$SIM_CHIP" $work/rest.log || fail "run $runs: the output names the chip: $(cat $work/rest.log)"
}

# A strike (fail-secure), active-high: de-energised is 0, at the request and again at the release.
rest "  relay: {chip: $SIM_CHIP, line: relay}"
expect_eq "$code" 0 "fail-secure: exit status ($(cat $work/rest.log))"
grep -q "relay rested" $work/rest.log || fail "fail-secure: $(cat $work/rest.log)"
expect_eq "$driven" "0 0 " "fail-secure: the levels driven"
echo "fail-secure: driven $driven"
# A maglock (fail-safe) on an active-low driver: de-energised is a high line (it rests open, as when
# facegate dies); never driven low, which would energise it.
rest "  relay: {chip: $SIM_CHIP, line: relay, active_low: true}
  fail_safe: true"
expect_eq "$code" 0 "fail-safe active-low: exit status ($(cat $work/rest.log))"
expect_eq "$driven" "1 1 " "fail-safe active-low: the levels driven"
echo "fail-safe active-low: driven $driven"
# A file the daemon refuses for a problem elsewhere (a bad edit may be what stopped it): rested all the same.
rest "  relay: {chip: $SIM_CHIP, line: relay}
  threshold: twelve"
expect_eq "$code" 0 "a file refused elsewhere: exit status ($(cat $work/rest.log))"
expect_eq "$driven" "0 0 " "a file refused elsewhere: the levels driven"
# The relay held by a running facegate: refused, never driven (ExecStopPost runs once the daemon is gone).
facegate door pulse --chip "$SIM_CHIP" --line relay --fail-secure --ms 600000 >/dev/null 2>&1 &
pulse=$!
wait_for_value $SIM_DIR/sim_gpio0/value 100 1 || fail "the pulse never unlocked"
rest "  relay: {chip: $SIM_CHIP, line: relay}"
kill $pulse; wait $pulse 2>/dev/null || true
expect_eq "$code" 1 "a relay held elsewhere: exit status ($(cat $work/rest.log))"
grep -q "door.relay" $work/rest.log || fail "a relay held elsewhere: not said by its key: $(cat $work/rest.log)"
expect_eq "$driven" "" "a relay held elsewhere: the levels driven"
echo "held elsewhere: refused ($(cut -c1-120 $work/rest.log))"

# `facegate door pulse` stopped mid-pulse (SIGTERM here; Ctrl-C is SIGINT): it locks the door again before
# it exits (status 143, 128 + SIGTERM), rather than leaving the relay to the chip.
facegate door pulse --chip "$SIM_CHIP" --line relay --fail-secure --ms 600000 >$work/pulse.log 2>&1 &
pulse=$!
wait_for_value $SIM_DIR/sim_gpio0/value 100 1 || fail "the pulse never unlocked"
echo facegate-relay-rest-stopped-pulse >$tracing/trace_marker
kill -TERM $pulse
wait $pulse
code=$?
driven=$(relay_levels_since facegate-relay-rest-stopped-pulse)
expect_eq "$code" 143 "a stopped pulse: exit status ($(cat $work/pulse.log))"
case "$driven" in 0*) ;; *) fail "a stopped pulse: not locked again: driven '$driven'" ;; esac
! echo "$driven" | grep -q 1 || fail "a stopped pulse: driven '$driven'"
grep -q "locked again" $work/pulse.log || fail "a stopped pulse: $(cat $work/pulse.log)"
echo "stopped pulse: locked again, driven $driven"

# `facegate door watch` stopped (SIGTERM; Ctrl-C is SIGINT) while an exit press holds the door unlocked: it
# locks the door again before it exits (143), as `door pulse` does. Before, the signal killed it outright and
# the relay was left to the chip: nothing driven after the signal. (60 s, the longest unlock the command takes,
# as door.pulse_seconds: far longer than the test holds it.)
facegate door watch --chip "$SIM_CHIP" --contact contact --exit-button exit --relay relay --relay-fail-secure \
    --unlock-seconds 60 >$work/watch.log 2>&1 &
watch=$!
sleep 2
echo pull-up >$SIM_DIR/sim_gpio2/pull
wait_for_value $SIM_DIR/sim_gpio0/value 100 1 || fail "the exit press never unlocked: $(cat $work/watch.log)"
echo pull-down >$SIM_DIR/sim_gpio2/pull
echo facegate-relay-rest-stopped-watch >$tracing/trace_marker
kill -TERM $watch
wait $watch
code=$?
driven=$(relay_levels_since facegate-relay-rest-stopped-watch)
expect_eq "$code" 143 "a stopped watch: exit status ($(cat $work/watch.log))"
case "$driven" in 0*) ;; *) fail "a stopped watch: not locked again: driven '$driven'" ;; esac
! echo "$driven" | grep -q 1 || fail "a stopped watch: driven '$driven'"
echo "stopped watch: locked again, driven $driven"
