# The relay falls back to its locked level when the controller is killed with SIGKILL.
gpio_sim_chip door relay contact exit
value=$SIM_DIR/sim_gpio0/value
facegate door pulse --chip "$SIM_CHIP" --line relay --fail-secure --ms 600000 &
pulse=$!
wait_for_value $value 100 1 || fail "relay never unlocked"
kill -9 $pulse; wait $pulse 2>/dev/null
wait_for_value $value 20 0 || fail "fail-secure relay still unlocked after SIGKILL"
echo "fail-secure: locked after SIGKILL"
# Fail-safe wiring holds the relay energised to lock; killed, the door must open.
facegate door watch --chip "$SIM_CHIP" --contact contact --relay relay --relay-fail-safe >/dev/null 2>&1 &
watch=$!
wait_for_value $value 100 1 || fail "fail-safe relay not energised (locked) while running"
kill -9 $watch; wait $watch 2>/dev/null
wait_for_value $value 20 0 || fail "fail-safe relay still energised after SIGKILL"
echo "fail-safe: released (door open) after SIGKILL"
