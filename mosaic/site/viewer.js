/* syntheo comparison viewer: two months under a swipe bar (leaflet-side-by-side), an NDVI change layer that can
 * replace either side, the flags overlays, a legend, a scale bar, full screen, and the view kept in the URL
 * (#map=ZOOM/LAT/LON&swipe=0..1&left=month|change&right=month|change&flags=0|1).
 *
 * Each side's layers live in their own map pane, clipped at the swipe bar: leaflet-side-by-side 2.2.0 clips only one
 * layer per side (the last of its list that is on the map), so the flags overlay above a month would not be clipped.
 * Every layer is limited to its pyramid's bounds and zooms, so the viewer only asks for tiles that exist.
 * Standard DOM only: no browser-specific code. */
(function () {
  'use strict'

  const config = JSON.parse(document.getElementById('syntheo-config').textContent)
  const SIDES = ['left', 'right']
  const KINDS = ['month', 'change']
  const OVERZOOM = 2 // zoom levels shown beyond the deepest pyramid level (tiles scaled up)

  const toBounds = (b) => L.latLngBounds([b[1], b[0]], [b[3], b[2]])
  const pyramids = [config.left, config.right].concat(config.change ? [config.change] : [])
  const minZoom = Math.min(...pyramids.map((p) => p.minzoom))
  const maxZoom = Math.max(...pyramids.map((p) => p.maxzoom)) + OVERZOOM
  const extent = toBounds(config.left.bounds).extend(toBounds(config.right.bounds))

  const map = L.map('map', { minZoom: minZoom, maxZoom: maxZoom, maxBounds: extent.pad(1), zoomControl: true })

  // -- layers, one pane per side ------------------------------------------------------------------------------
  const panes = {}
  SIDES.forEach((side, i) => {
    panes[side] = map.createPane('syntheo-' + side)
    panes[side].style.zIndex = String(250 + i) // above Leaflet's tile pane (200), below overlays (400)
  })

  function tileLayer (pyramid, url, side, kind, zIndex) {
    return L.tileLayer(url, {
      pane: 'syntheo-' + side,
      bounds: toBounds(pyramid.bounds),
      minZoom: pyramid.minzoom,
      maxNativeZoom: pyramid.maxzoom,
      maxZoom: maxZoom,
      noWrap: true,
      zIndex: zIndex,
      className: 'syntheo-' + kind + ' syntheo-' + side + '-' + kind,
      attribution: config.attribution
    })
  }

  const layers = {}
  SIDES.forEach((side) => {
    layers[side] = {
      month: tileLayer(config[side], config[side].tiles, side, 'month', 1),
      change: config.change ? tileLayer(config.change, config.change.tiles, side, 'change', 1) : null,
      flags: config[side].flags ? tileLayer(config[side], config[side].flags, side, 'flags', 2) : null
    }
  })

  const state = { left: 'month', right: 'month', flags: false, swipe: 0.5 }

  // -- swipe ------------------------------------------------------------------------------------------------
  const swipe = L.control.sideBySide(
    [layers.left.month, layers.left.change].filter(Boolean),
    [layers.right.month, layers.right.change].filter(Boolean)
  ).addTo(map)
  const range = map.getContainer().querySelector('.leaflet-sbs-range')
  range.setAttribute('aria-label', 'Swipe position between the two sides')

  const labels = {}
  SIDES.forEach((side) => {
    labels[side] = L.DomUtil.create('div', 'syntheo-label syntheo-label-' + side, map.getContainer())
  })

  function clipPanes (x) {
    const nw = map.containerPointToLayerPoint([0, 0])
    const se = map.containerPointToLayerPoint(map.getSize())
    const clipX = nw.x + x
    panes.left.style.clip = 'rect(' + [nw.y, clipX, se.y, nw.x].join('px,') + 'px)'
    panes.right.style.clip = 'rect(' + [nw.y, se.x, se.y, clipX].join('px,') + 'px)'
  }

  function placeLabels (x) {
    const width = map.getSize().x
    labels.left.style.right = Math.min(width - 10, Math.max(0, width - x + 10)) + 'px'
    labels.right.style.left = Math.min(width - 10, x + 10) + 'px'
  }

  swipe.on('dividermove', (e) => {
    clipPanes(e.x)
    placeLabels(e.x)
    const value = Number(range.value)
    if (value !== state.swipe) {
      state.swipe = value
      scheduleUrl()
    }
  })

  // -- legend -----------------------------------------------------------------------------------------------
  const Legend = L.Control.extend({
    options: { position: 'bottomright' },
    onAdd: function () {
      const div = L.DomUtil.create('div', 'syntheo-legend')
      const legend = config.change.legend
      const span = legend.max - legend.min
      const stops = legend.stops.map((s) => s[1] + ' ' + ((100 * (s[0] - legend.min)) / span).toFixed(1) + '%')
      L.DomUtil.create('div', 'syntheo-legend-title', div).textContent = legend.title
      L.DomUtil.create('div', 'syntheo-legend-bar', div).style.background =
        'linear-gradient(to right, ' + stops.join(', ') + ')'
      const ticks = L.DomUtil.create('div', 'syntheo-legend-ticks', div)
      const fmt = (v) => (v > 0 ? '+' : v < 0 ? '\u2212' : '') + Math.abs(v).toFixed(2).replace(/\.?0+$/, '')
      ;[legend.min, 0, legend.max].forEach((v) => {
        L.DomUtil.create('span', '', ticks).textContent = (v === legend.min ? '\u2264 ' : v === legend.max ? '\u2265 ' : '') + fmt(v)
      })
      L.DomUtil.create('div', 'syntheo-legend-note', div).textContent =
        'brown: vegetation receded \u2014 green: it grew; transparent: no valid pixel in one month'
      return div
    }
  })
  const legend = config.change ? new Legend().addTo(map) : null

  // -- layer panel ------------------------------------------------------------------------------------------
  const Panel = L.Control.extend({
    options: { position: 'topright' },
    onAdd: function () {
      const form = L.DomUtil.create('form', 'syntheo-panel leaflet-control-layers')
      form.setAttribute('aria-label', 'Layers')
      SIDES.forEach((side) => {
        const set = L.DomUtil.create('fieldset', '', form)
        L.DomUtil.create('legend', '', set).textContent = side === 'left' ? 'Left' : 'Right'
        KINDS.forEach((kind) => {
          if (kind === 'change' && !config.change) return
          const label = L.DomUtil.create('label', '', set)
          const input = L.DomUtil.create('input', '', label)
          input.type = 'radio'
          input.name = side
          input.value = kind
          input.id = 'syntheo-' + side + '-' + kind
          label.append(' ' + (kind === 'month' ? config[side].label : config.change.label))
        })
      })
      if (layers.left.flags || layers.right.flags) {
        const label = L.DomUtil.create('label', '', form)
        const input = L.DomUtil.create('input', '', label)
        input.type = 'checkbox'
        input.name = 'flags'
        input.id = 'syntheo-flags'
        label.append(' Flags (always cloudy, no data)')
      }
      if (!config.change) {
        L.DomUtil.create('div', 'syntheo-legend-note', form).textContent = 'No change layer in this site'
      }
      form.addEventListener('change', (e) => {
        const t = e.target
        if (t.name === 'flags') state.flags = t.checked
        else if (SIDES.includes(t.name)) state[t.name] = t.value
        apply()
        scheduleUrl()
      })
      form.addEventListener('submit', (e) => e.preventDefault())
      L.DomEvent.disableClickPropagation(form)
      L.DomEvent.disableScrollPropagation(form)
      this._form = form
      return form
    },
    sync: function () {
      const form = this._form
      SIDES.forEach((side) => {
        const input = form.querySelector('#syntheo-' + side + '-' + state[side])
        if (input) input.checked = true
      })
      const flags = form.querySelector('#syntheo-flags')
      if (flags) flags.checked = state.flags
    }
  })
  const panel = new Panel().addTo(map)

  // -- full screen, scale -----------------------------------------------------------------------------------
  if (document.fullscreenEnabled) {
    const FullScreen = L.Control.extend({
      options: { position: 'topleft' },
      onAdd: function () {
        const bar = L.DomUtil.create('div', 'leaflet-bar')
        const button = L.DomUtil.create('button', 'syntheo-fullscreen', bar)
        button.type = 'button'
        button.title = 'Full screen'
        button.setAttribute('aria-label', 'Full screen')
        button.innerHTML = '<svg viewBox="0 0 18 18" width="16" height="16" aria-hidden="true" fill="none" ' +
          'stroke="#333" stroke-width="2"><path d="M1 6V1h5M12 1h5v5M17 12v5h-5M6 17H1v-5"/></svg>'
        L.DomEvent.disableClickPropagation(bar)
        button.addEventListener('click', () => {
          if (document.fullscreenElement) document.exitFullscreen()
          else map.getContainer().requestFullscreen()
        })
        return bar
      }
    })
    new FullScreen().addTo(map)
    document.addEventListener('fullscreenchange', () => map.invalidateSize())
  }
  L.control.scale({ imperial: false, position: 'bottomleft' }).addTo(map)

  // -- state: layers shown ----------------------------------------------------------------------------------
  function apply () {
    SIDES.forEach((side) => {
      const set = layers[side]
      const base = state[side] === 'change' && set.change ? set.change : set.month
      ;[set.month, set.change].forEach((layer) => {
        if (layer && layer !== base && map.hasLayer(layer)) map.removeLayer(layer)
      })
      if (!map.hasLayer(base)) map.addLayer(base)
      if (set.flags) {
        if (state.flags && !map.hasLayer(set.flags)) map.addLayer(set.flags)
        if (!state.flags && map.hasLayer(set.flags)) map.removeLayer(set.flags)
      }
      labels[side].textContent = base === set.change ? config.change.label : config[side].label
    })
    if (legend) legend.getContainer().hidden = !SIDES.some((side) => state[side] === 'change')
    panel.sync()
    clipPanes(swipe.getPosition())
  }

  // -- state: URL -------------------------------------------------------------------------------------------
  function readUrl () {
    const params = new URLSearchParams(window.location.hash.slice(1))
    const out = {}
    const view = (params.get('map') || '').split('/').map(Number)
    if (view.length === 3 && view.every(Number.isFinite)) out.view = view
    const s = parseFloat(params.get('swipe'))
    if (s >= 0 && s <= 1) out.swipe = s
    SIDES.forEach((side) => {
      const v = params.get(side)
      if (v === 'month' || (v === 'change' && config.change)) out[side] = v
    })
    if (params.has('flags')) out.flags = params.get('flags') === '1' && !!(layers.left.flags || layers.right.flags)
    return out
  }

  function writeUrl () {
    const c = map.getCenter()
    const digits = Math.max(2, Math.ceil(Math.log10(Math.pow(2, map.getZoom()))))
    const hash = '#map=' + map.getZoom() + '/' + c.lat.toFixed(digits) + '/' + c.lng.toFixed(digits) +
      '&swipe=' + state.swipe.toFixed(3) + '&left=' + state.left + '&right=' + state.right +
      '&flags=' + (state.flags ? 1 : 0)
    if (hash !== window.location.hash) window.history.replaceState(null, '', hash)
  }

  let urlTimer = null
  function scheduleUrl () {
    window.clearTimeout(urlTimer)
    urlTimer = window.setTimeout(writeUrl, 150)
  }

  function restore (saved) {
    SIDES.forEach((side) => { if (saved[side]) state[side] = saved[side] })
    if (saved.flags !== undefined) state.flags = saved.flags
    if (saved.view) {
      map.setView([saved.view[1], saved.view[2]], Math.min(maxZoom, Math.max(minZoom, Math.round(saved.view[0]))))
    }
    apply()
    if (saved.swipe !== undefined) {
      range.value = String(saved.swipe)
      range.dispatchEvent(new Event('input')) // leaflet-side-by-side listens to it and moves the clip
    }
  }

  const saved = readUrl()
  if (!saved.view) map.fitBounds(extent)
  restore(saved)
  map.on('moveend', scheduleUrl)
  window.addEventListener('hashchange', () => restore(readUrl()))
  window.syntheoViewer = { map: map, layers: layers, swipe: swipe, state: state } // for tests and the console
})()
