# Shared by the TLS benchmark scripts (tls-compare, tls-handshakes, tls-instructions, tls-fetch): a
# throwaway certificate authority and a leaf certificate for localhost and 127.0.0.1, made at run time with
# the openssl command (P-256 keys, as UVNetTLS's CertificateAuthority makes), so no key ships with the
# benchmarks; and the build of the C programs. Source it after echo/bench-lib.sh; it defines functions only.

# make_certificates DIR: writes DIR/ca.pem (the CA to trust), DIR/cert.pem and DIR/key.pem (the server's).
# The CA's key is deleted once the leaf is signed.
make_certificates() {
    local dir=$1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" -subj "/CN=UVNet benchmark throwaway CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/key.pem" -out "$dir/leaf.csr" -subj "/CN=localhost" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$dir/leaf.ext"
    openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial -days 2 \
        -extfile "$dir/leaf.ext" -out "$dir/cert.pem" 2>/dev/null
    rm -f "$dir/leaf.csr" "$dir/leaf.ext" "$dir/ca.srl" "$dir/ca-key.pem"
    openssl verify -CAfile "$dir/ca.pem" "$dir/cert.pem" >/dev/null || {
        echo "benchmark: could not make the throwaway certificates in $dir" >&2
        return 1
    }
}

# build_tls_programs BIN PROGRAM...: compiles Benchmarks/tls/PROGRAM.c into BIN/PROGRAM (libuv, OpenSSL 3).
build_tls_programs() {
    local bin=$1 program
    shift
    for program in "$@"; do
        cc -O2 -Wall -Wextra $(pkg-config --cflags libuv openssl) -o "$bin/$program" "Benchmarks/tls/$program.c" \
            $(pkg-config --libs libuv openssl)
    done
}
