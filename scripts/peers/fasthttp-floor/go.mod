// A module of its own, so that fasthttp is never a dependency of Signet:
// scripts/peers/lighthttp builds it for its measurement only.
module github.com/signet-project/signet/scripts/peers/fasthttp-floor

go 1.26.0

require github.com/valyala/fasthttp v1.79.0

require (
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
)
