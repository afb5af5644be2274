# The relay line on gpio-sim: locked at rest, unlocked for the pulse time, both polarities. The sim's value
# shows the level the line is at; how long it was held comes from the kernel's gpio tracepoint, stamped as
# facegate drove the line (a shell polling the value is late by a fork and a sleep at each end).
gpio_sim_chip door relay contact exit
gpio_trace_relay
value=$SIM_DIR/sim_gpio0/value
expect_eq "$(cat $value)" 0 "active-high relay at rest"
echo facegate-relay-pulse-high >$tracing/trace_marker
facegate door pulse --chip "$SIM_CHIP" --line relay --fail-secure --ms 1500 &
pulse=$!
wait_for_value $value 100 1 || fail "relay never went high"
wait_for_value $value 100 0 || fail "relay never went back low"
wait $pulse || fail "door pulse failed"
held=$(relay_held_ms_since facegate-relay-pulse-high 1)
echo "active-high pulse held ${held} ms (driven $(relay_levels_since facegate-relay-pulse-high))"
[ -n "$held" ] && [ $held -ge 1450 ] && [ $held -le 4000 ] || fail "pulse of 1500 ms lasted '${held}' ms"

# Active-low: the board's pull-up is the resting (locked) level; unlocking drives low.
echo pull-up >$SIM_DIR/sim_gpio0/pull
expect_eq "$(cat $value)" 1 "active-low relay at rest"
echo facegate-relay-pulse-low >$tracing/trace_marker
facegate door pulse --chip "$SIM_CHIP" --line 0 --active-low --fail-secure --ms 1000 &
pulse=$!
wait_for_value $value 100 0 || fail "active-low relay never went low"
wait_for_value $value 100 1 || fail "active-low relay never went back high"
wait $pulse || fail "door pulse failed"
held=$(relay_held_ms_since facegate-relay-pulse-low 0)
echo "active-low pulse held ${held} ms (driven $(relay_levels_since facegate-relay-pulse-low))"
[ -n "$held" ] && [ $held -ge 950 ] && [ $held -le 3000 ] || fail "pulse of 1000 ms lasted '${held}' ms"
echo pull-down >$SIM_DIR/sim_gpio0/pull
