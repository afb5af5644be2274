# Helpers for hil/tests/*.sh, sourced before each test (busybox sh).

fail() { echo "FAIL: $*"; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }

# Loads a module once (tests may run in any order or alone).
load() { lsmod | grep -q "^$(echo "$1" | tr - _) " || modprobe "$@" || fail "modprobe $*"; }

# Creates a gpio-sim chip with the given line names (bank "door"); sets
# SIM_CHIP (gpiochipN) and SIM_DIR (the simulator's sysfs folder).
# The sim side of line N is $SIM_DIR/sim_gpioN/{value,pull}.
gpio_sim_chip() {
    load gpio-sim
    local bank=/sys/kernel/config/gpio-sim/$1
    shift
    if [ ! -d "$bank" ]; then
        mkdir -p "$bank/bank0"
        echo $# >"$bank/bank0/num_lines"
        local i=0
        for name in "$@"; do
            mkdir "$bank/bank0/line$i"
            echo "$name" >"$bank/bank0/line$i/name"
            i=$((i + 1))
        done
        echo 1 >"$bank/live"
    fi
    SIM_CHIP=$(cat "$bank/bank0/chip_name")
    SIM_DIR=/sys/devices/platform/$(cat "$bank/dev_name")/$SIM_CHIP
}

# Waits up to $2 tenths of a second for file $1 to read $3.
wait_for_value() {
    local i=0
    while [ $i -lt "$2" ]; do
        [ "$(cat "$1")" = "$3" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
