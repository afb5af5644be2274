# Forced-open (no grant before opening) and held-open (open past the limit) alarms.
gpio_sim_chip door relay contact exit
facegate door watch --chip "$SIM_CHIP" --contact contact --held-open-seconds 2 >/tmp/alarms.log 2>&1 &
watch=$!
sleep 2
echo pull-up >$SIM_DIR/sim_gpio1/pull
wait_for_text /tmp/alarms.log 50 '"event":"forcedOpen"' || fail "no forced-open alarm: $(cat /tmp/alarms.log)"
wait_for_text /tmp/alarms.log 100 '"event":"heldOpen"' || fail "no held-open alarm: $(cat /tmp/alarms.log)"
echo pull-down >$SIM_DIR/sim_gpio1/pull
wait_for_text /tmp/alarms.log 50 '"event":"closed"' || fail "no closing"
kill $watch; wait $watch 2>/dev/null
cat /tmp/alarms.log
grep -q '"authorized":false' /tmp/alarms.log || fail "opening not marked unauthorised"

# A door already open when facegate starts: timed from then, the held-open alarm with no other input
# (the line's level is the first thing its watch reports).
echo pull-up >$SIM_DIR/sim_gpio1/pull
facegate door watch --chip "$SIM_CHIP" --contact contact --held-open-seconds 2 >/tmp/open-at-start.log 2>&1 &
watch=$!
wait_for_text /tmp/open-at-start.log 100 '"event":"heldOpen"' || fail "a door open at start-up raised no held-open alarm: $(cat /tmp/open-at-start.log)"
kill $watch; wait $watch 2>/dev/null
echo pull-down >$SIM_DIR/sim_gpio1/pull
cat /tmp/open-at-start.log
grep -q '"event":"forcedOpen"' /tmp/open-at-start.log && fail "a door open at start-up was taken for forced"
true
