# gitmig's container image: the static binary on distroless, run as a non-root user.
# The release workflow builds it for linux/amd64 and linux/arm64 and pushes it to GHCR;
# the builder stage runs on the build machine's platform and cross-compiles, so no
# emulation is needed. Build it yourself with:
#
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t gitmig .

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first, so that a change to the code reuses the downloaded modules' layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS TARGETARCH VERSION=devel COMMIT=unknown DATE=unknown
# The same script and flags as the release archives: static, -trimpath, stamped.
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH VERSION=$VERSION COMMIT=$COMMIT DATE=$DATE \
	hack/release/build.sh binary /out/gitmig

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gitmig /usr/local/bin/gitmig
# distroless's nonroot user; numeric, so Kubernetes' runAsNonRoot can check it.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/gitmig"]
