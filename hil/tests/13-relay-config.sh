# timeout: 120
# `facegate door pulse` wired as the configuration says: a fail-safe maglock (energised to lock) is
# unlocked by releasing its relay, not energising it, whether the relay comes from the file (`--config`
# alone) or is named on the command line without `--fail-safe`; a command line that contradicts the file
# (`--fail-secure`) is refused and drives nothing. The sim's value shows the level while unlocked, the
# kernel's gpio tracepoint every level driven (with the wiring guessed fail-secure: `0 1 0 0`).
gpio_sim_chip door relay contact exit
gpio_trace_relay
value=$SIM_DIR/sim_gpio0/value
work=/tmp/relay-config
rm -rf $work && mkdir -p $work
printf 'door:\n  relay: {chip: %s, line: relay}\n  fail_safe: true\n' "$SIM_CHIP" >$work/facegate.yaml
runs=0

# Pulses for 3 s with arguments "$@", reads the relay's level while unlocked and waits for the pulse's end;
# sets `unlocked` (the sim's value while unlocked) and `driven` (every level driven, in order).
pulse_maglock() {
    runs=$((runs + 1))
    mark="facegate-relay-config-run-$runs"
    echo "$mark" >$tracing/trace_marker
    facegate door pulse "$@" --ms 3000 >$work/pulse.log 2>&1 &
    pulse=$!
    # Locked (energised, 1) from the request on, then released (0) to unlock.
    i=0
    until relay_levels_since "$mark" | grep -q "^1 0 "; do
        i=$((i + 1))
        [ $i -lt 100 ] || { kill $pulse; fail "run $runs: never unlocked as a maglock: driven '$(relay_levels_since "$mark")', $(cat $work/pulse.log)"; }
        sleep 0.1
    done
    unlocked=$(cat $value)
    wait $pulse || fail "run $runs: door pulse failed: $(cat $work/pulse.log)"
    driven=$(relay_levels_since "$mark")
    # Locked again (energised) at the pulse's end, then let go de-energised (a maglock rests open).
    expect_eq "$driven" "1 0 1 0 " "run $runs: the levels driven"
}

pulse_maglock --config $work/facegate.yaml
expect_eq "$unlocked" 0 "the file's maglock relay while unlocked"
grep -q "door.relay in" $work/pulse.log || fail "not said that the relay is the file's: $(cat $work/pulse.log)"
echo "--config alone: unlocked at $unlocked, driven $driven"

pulse_maglock --config $work/facegate.yaml --chip "$SIM_CHIP" --line relay
expect_eq "$unlocked" 0 "the file's line named without --fail-safe, while unlocked"
grep -q "door.fail_safe" $work/pulse.log || fail "not said that the wiring is the file's: $(cat $work/pulse.log)"
echo "--chip --line without a fail mode: unlocked at $unlocked, driven $driven"

# Contradicting the file for its own line: refused before the line is requested.
echo facegate-relay-config-contradicted >$tracing/trace_marker
facegate door pulse --config $work/facegate.yaml --chip "$SIM_CHIP" --line relay --fail-secure --ms 100 >$work/pulse.log 2>&1
code=$?
expect_eq "$code" 64 "--fail-secure on a fail-safe line: exit status ($(cat $work/pulse.log))"
grep -q "door.fail_safe" $work/pulse.log || fail "the refusal does not name door.fail_safe: $(cat $work/pulse.log)"
expect_eq "$(relay_levels_since facegate-relay-config-contradicted)" "" "--fail-secure on a fail-safe line: the levels driven"
echo "--fail-secure on a fail-safe line: refused ($(cut -c1-160 $work/pulse.log))"

# The file's line spelt another way (the chip by its number, the line by its offset): the same line, so
# wired as the file says, and contradicting the file there is refused too (before: taken for another line,
# so refused for want of a fail mode, or, with `--fail-secure`, driven the wrong way round).
pulse_maglock --config $work/facegate.yaml --chip "${SIM_CHIP#gpiochip}" --line 0
expect_eq "$unlocked" 0 "the file's line by number and offset, while unlocked"
grep -q "door.fail_safe" $work/pulse.log || fail "not said that the wiring is the file's: $(cat $work/pulse.log)"
echo "the file's line by number and offset: unlocked at $unlocked, driven $driven"
echo facegate-relay-config-offset-contradicted >$tracing/trace_marker
facegate door pulse --config $work/facegate.yaml --chip "${SIM_CHIP#gpiochip}" --line 0 --fail-secure --ms 100 >$work/pulse.log 2>&1
code=$?
expect_eq "$code" 64 "--fail-secure on the fail-safe line by its offset: exit status ($(cat $work/pulse.log))"
expect_eq "$(relay_levels_since facegate-relay-config-offset-contradicted)" "" "--fail-secure by offset: the levels driven"
echo "--fail-secure on the fail-safe line by its offset: refused"
