# Sourced by generate.sh and generate-onnx.sh: finds protoc and a
# protoc-gen-swift of SWIFT_PROTOBUF_VERSION (set by the caller) or exits.
me="$(basename "$0")"
PROTOC_GEN_SWIFT="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
[ -x "$PROTOC_GEN_SWIFT" ] || { echo "$me: protoc-gen-swift not found (set PROTOC_GEN_SWIFT)" >&2; exit 1; }
command -v protoc >/dev/null || { echo "$me: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
got="$("$PROTOC_GEN_SWIFT" --version)"
case "$got" in
    *" $SWIFT_PROTOBUF_VERSION") ;;
    *) echo "$me: $got, expected $SWIFT_PROTOBUF_VERSION" >&2; exit 1 ;;
esac
