# The camera is unplugged (vivid's device unbound) while streaming; the source recovers when it returns.
load vivid n_devs=1 node_types=0x1
device=$(video_device vivid) || fail "no vivid node"
facegate camera probe --device "$device" --format YUYV --size 640x480 --frames 40 --stall-timeout 3 --seconds 90 \
    >/tmp/recovery.json 2>/tmp/recovery.err &
probe=$!
wait_for_text /tmp/recovery.json 200 streaming || fail "never streamed: $(cat /tmp/recovery.err)"
sleep 1
echo vivid.0 >/sys/bus/platform/drivers/vivid/unbind
wait_for_text /tmp/recovery.json 100 'lost' || fail "outage not reported: $(cat /tmp/recovery.json)"
sleep 2
echo vivid.0 >/sys/bus/platform/drivers/vivid/bind
wait $probe
code=$?
cat /tmp/recovery.json
[ $code = 0 ] || fail "probe failed: $(cat /tmp/recovery.err)"
expect_json /tmp/recovery.json 'recovered after'
expect_json /tmp/recovery.json '"frames":40'
expect_json /tmp/recovery.json '"timestampsIncreasing":true'

# A loopback whose feeder goes away stalls; the source waits and resumes with the feeder.
load v4l2loopback devices=1 video_nr=42 exclusive_caps=1 card_label=facegate-loopback
facegate camera feed --device /dev/video42 --photos /hil/photos --fps 10 >/dev/null 2>&1 &
feeder=$!
sleep 2
facegate camera probe --device /dev/video42 --format YUYV --frames 30 --stall-timeout 2 --seconds 90 \
    >/tmp/stall.json 2>/tmp/stall.err &
probe=$!
wait_for_text /tmp/stall.json 200 streaming || fail "loopback never streamed: $(cat /tmp/stall.err)"
sleep 1
kill $feeder; wait $feeder 2>/dev/null
wait_for_text /tmp/stall.json 100 'lost' || fail "stall not reported: $(cat /tmp/stall.json)"
facegate camera feed --device /dev/video42 --photos /hil/photos --fps 10 >/dev/null 2>&1 &
feeder=$!
wait $probe
code=$?
kill $feeder; wait $feeder 2>/dev/null
cat /tmp/stall.json
[ $code = 0 ] || fail "probe failed: $(cat /tmp/stall.err)"
expect_json /tmp/stall.json 'recovered after'
