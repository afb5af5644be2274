# The relay line on gpio-sim: locked at rest, unlocked for the pulse time, both polarities.
gpio_sim_chip door relay contact exit
value=$SIM_DIR/sim_gpio0/value
expect_eq "$(cat $value)" 0 "active-high relay at rest"
facegate door pulse --chip "$SIM_CHIP" --line relay --fail-secure --ms 1500 &
pulse=$!
wait_for_value $value 100 1 || fail "relay never went high"
start=$(uptime_cs)
wait_for_value $value 100 0 || fail "relay never went back low"
held=$(( $(uptime_cs) - start ))
wait $pulse || fail "door pulse failed"
echo "active-high pulse held ${held}0 ms"
[ $held -ge 140 ] && [ $held -le 400 ] || fail "pulse of 1500 ms lasted ${held}0 ms"

# Active-low: the board's pull-up is the resting (locked) level; unlocking drives low.
echo pull-up >$SIM_DIR/sim_gpio0/pull
expect_eq "$(cat $value)" 1 "active-low relay at rest"
facegate door pulse --chip "$SIM_CHIP" --line 0 --active-low --fail-secure --ms 1000 &
pulse=$!
wait_for_value $value 100 0 || fail "active-low relay never went low"
start=$(uptime_cs)
wait_for_value $value 100 1 || fail "active-low relay never went back high"
held=$(( $(uptime_cs) - start ))
wait $pulse || fail "door pulse failed"
echo "active-low pulse held ${held}0 ms"
[ $held -ge 90 ] && [ $held -le 300 ] || fail "pulse of 1000 ms lasted ${held}0 ms"
echo pull-down >$SIM_DIR/sim_gpio0/pull
