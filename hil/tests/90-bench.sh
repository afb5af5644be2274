# Benchmarks (TCG-emulated CPU: absolute numbers are slow; compare runs, not machines).
load vivid n_devs=1 node_types=0x1
device=$(video_device vivid) || fail "no vivid node"
facegate camera probe --device "$device" --format YUYV --size 640x480 --frames 60 --seconds 90 >/tmp/bench.json || fail "vivid probe"
echo "BENCH capture vivid YUYV 640x480 -> rgb24: $(tail -1 /tmp/bench.json)"
gpio_sim_chip door relay contact exit
facegate door bench --chip "$SIM_CHIP" --line relay --sim-value $SIM_DIR/sim_gpio0/value --count 20 >/tmp/relay.json \
    || fail "relay bench: $(cat /tmp/relay.json)"
echo "BENCH relay: $(cat /tmp/relay.json)"
