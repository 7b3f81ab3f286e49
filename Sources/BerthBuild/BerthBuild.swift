// BerthBuild: `berth build`. The Dockerfile parser, .dockerignore patterns, and the builder that
// runs each step (RUN in a real container) and caches its layers.
