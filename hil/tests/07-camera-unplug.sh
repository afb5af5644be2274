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

