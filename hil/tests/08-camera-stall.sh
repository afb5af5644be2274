# The stream stalls (the loopback's feeder is frozen with SIGSTOP): the source reports the
# outage, keeps trying, and resumes when frames flow again (SIGCONT), without restarting.
load v4l2loopback devices=1 video_nr=42 exclusive_caps=1 card_label=facegate-loopback
facegate camera feed --device /dev/video42 --photos /hil/photos --fps 10 >/tmp/feed.log 2>&1 &
feeder=$!
wait_for_text /tmp/feed.log 100 feeding || fail "feeder did not start: $(cat /tmp/feed.log)"
sleep 1
facegate camera probe --device /dev/video42 --format YUYV --frames 30 --stall-timeout 2 --seconds 50 \
    >/tmp/stall.json 2>/tmp/stall.err &
probe=$!
wait_for_text /tmp/stall.json 200 streaming || fail "loopback never streamed: $(cat /tmp/stall.err)"
sleep 1
kill -STOP $feeder
wait_for_text /tmp/stall.json 100 'lost: stalled' || fail "stall not reported: $(cat /tmp/stall.json)"
sleep 3
kill -CONT $feeder
wait $probe
code=$?
kill $feeder; wait $feeder 2>/dev/null
cat /tmp/stall.json
[ $code = 0 ] || fail "probe failed: $(cat /tmp/stall.err)"
expect_json /tmp/stall.json 'recovered after'
expect_json /tmp/stall.json '"frames":30'
