# Benchmarks (TCG-emulated CPU: absolute numbers are slow; compare runs, not machines).
# timeout: 240
load vivid n_devs=1 node_types=0x1
device=$(video_device vivid) || fail "no vivid node"
facegate camera probe --device "$device" --format YUYV --size 640x480 --frames 60 --seconds 90 >/tmp/bench.json || fail "vivid probe"
echo "BENCH capture vivid YUYV 640x480 -> rgb24: $(tail -1 /tmp/bench.json)"
gpio_sim_chip door relay contact exit
facegate door bench --chip "$SIM_CHIP" --line relay --fail-secure --sim-value $SIM_DIR/sim_gpio0/value --count 20 >/tmp/relay.json \
    || fail "relay bench: $(cat /tmp/relay.json)"
echo "BENCH relay: $(cat /tmp/relay.json)"
load v4l2loopback devices=1 video_nr=42 exclusive_caps=1 card_label=facegate-loopback
facegate camera feed --device /dev/video42 --photos /hil/photos --fps 15 >/dev/null 2>&1 &
feeder=$!
sleep 2
facegate camera probe --device /dev/video42 --format YUYV --size 640x480 --frames 45 --seconds 90 >/tmp/loop.json \
    || fail "loopback probe"
kill $feeder; wait $feeder 2>/dev/null
echo "BENCH capture v4l2loopback YUYV 640x480 -> rgb24: $(tail -1 /tmp/loop.json)"
