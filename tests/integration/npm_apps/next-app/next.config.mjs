// Nothing to configure: no transpilePackages, the package is plain ES modules.
const config = {};

export default config;
