# A loopback whose feeder goes away stalls; the source reports it, waits, and resumes with the feeder.
load v4l2loopback devices=1 video_nr=42 exclusive_caps=1 card_label=facegate-loopback
facegate camera feed --device /dev/video42 --photos /hil/photos --fps 10 >/dev/null 2>&1 &
feeder=$!
sleep 2
facegate camera probe --device /dev/video42 --format YUYV --frames 30 --stall-timeout 2 --seconds 45 \
    >/tmp/stall.json 2>/tmp/stall.err &
probe=$!
wait_for_text /tmp/stall.json 200 streaming || fail "loopback never streamed: $(cat /tmp/stall.err)"
sleep 1
kill $feeder; wait $feeder 2>/dev/null
wait_for_text /tmp/stall.json 100 'lost' || fail "stall not reported: $(cat /tmp/stall.json)"
facegate camera feed --device /dev/video42 --photos /hil/photos --fps 10 >/tmp/feed2.log 2>&1 &
feeder=$!
wait $probe
code=$?
kill $feeder; wait $feeder 2>/dev/null
cat /tmp/stall.json
[ $code = 0 ] || fail "probe failed: $(cat /tmp/stall.err) feeder: $(cat /tmp/feed2.log)"
expect_json /tmp/stall.json 'recovered after'
