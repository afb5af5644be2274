# Shared by scripts/package and scripts/hil-systemd (sourced): reads packaging/deb/depends, the packages
# the .deb's Depends: and Recommends: name. The caller defines repo and die.

package_depends_file=$repo/packaging/deb/depends

# package_depends KIND...: the packages of those kinds (shlibs, depends, recommends), one a line, in
# the file's order. Stops at a line that is neither a comment nor "KIND PACKAGE".
package_depends() {
    local kinds=" $* " kind name rest number=0
    [ -f "$package_depends_file" ] || die "$package_depends_file is missing"
    while read -r kind name rest; do
        number=$((number + 1))
        case "$kind" in ''|'#'*) continue ;; esac
        [[ $kind =~ ^(shlibs|depends|recommends)$ && $name =~ ^[a-z0-9][a-z0-9.+-]+$ && -z $rest ]] \
            || die "$package_depends_file line $number is not 'shlibs|depends|recommends PACKAGE'"
        [[ $kinds == *" $kind "* ]] && echo "$name"
    done <"$package_depends_file"
    return 0
}

# package_names: a Depends:-style field on stdin, one package a line: the first of each set of
# alternatives, without versions or architecture qualifiers.
package_names() {
    tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/:[a-z0-9]+//; s/[[:space:]]//g' | grep -v '^$' || true
}
