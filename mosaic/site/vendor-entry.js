// Source of mosaic/site/vendor/viewer-libs.{js,css}, built by `npm run build:vendor` (esbuild, at install time).
// leaflet-side-by-side 2.2.0 ships only a CommonJS index.js that requires 'leaflet' and its two CSS files: bundling
// it with Leaflet gives one browser script (an IIFE) and one style sheet (its range icon and Leaflet's images
// inlined as data URLs), so the page needs no module loader, no CDN and nothing outside the site folder.
var L = require('leaflet')
require('leaflet/dist/leaflet.css')
require('leaflet-side-by-side')

window.L = L
