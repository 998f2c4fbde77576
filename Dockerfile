# bot-bottle/packhelper: the static binary and nothing else, FROM scratch, for
# linux/amd64 and linux/arm64. Build with `make image`: for each platform it
# stages build/image/ARCH/root (the stripped binary, static/'s passwd and
# group, the host's CA bundle) and runs
#   DOCKER_BUILDKIT=0 docker build --platform linux/ARCH -f Dockerfile build/image/ARCH
# (there is no registry to pull a builder from, and no buildx is needed).
FROM scratch
# The COPY comes first: Docker 20.10's legacy builder fails a --platform
# linux/arm64 build from scratch when an ARG or LABEL precedes the first COPY.
COPY root/ /

ARG VERSION=dev
LABEL org.opencontainers.image.title="packhelper" \
      org.opencontainers.image.description="OCI registry, importer, pusher, copier, pull-through mirror and readiness probe in one static binary" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"

# Any uid may use the default store (docker run --user ...), hence 1777 on it.
ENV PACKHELPER_ROOT=/var/lib/packhelper \
    PACKHELPER_LISTEN=0.0.0.0:5000 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /var/lib/packhelper
EXPOSE 5000

# Docker's default interval (30 s) would hold every service_healthy dependant.
HEALTHCHECK --interval=2s --timeout=2s --start-period=60s --retries=3 \
    CMD ["/packhelper", "probe", "--quiet"]

ENTRYPOINT ["/packhelper"]
CMD ["serve"]
