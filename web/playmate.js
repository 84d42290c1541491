// Playmate's frontend extension: grey out Pose From Video's frame-rate widgets while its connections make them
// unused (fps when audio_features is connected, images_fps unless frames come in through images). Their values are
// kept and saved as before; the node's report says the same after a run.
import { app } from "../../scripts/app.js";

const RATE_WIDGETS = [
    ["fps", (linked) => linked("audio_features")],
    ["images_fps", (linked) => !linked("images")],
];

function updateRateWidgets(node) {
    const linked = (name) => node.inputs?.find((input) => input.name === name)?.link != null;
    for (const [name, unused] of RATE_WIDGETS) {
        const widget = node.widgets?.find((w) => w.name === name);
        if (widget) widget.disabled = unused(linked);
    }
    node.setDirtyCanvas?.(true, true);
}

app.registerExtension({
    name: "Playmate.PoseFromVideoRates",
    nodeCreated(node) {
        if (node.comfyClass !== "PlaymatePoseFromVideo") return;
        const onConnectionsChange = node.onConnectionsChange;
        node.onConnectionsChange = function (...args) {
            onConnectionsChange?.apply(this, args);
            updateRateWidgets(this);
        };
        const onConfigure = node.onConfigure;
        node.onConfigure = function (...args) {
            onConfigure?.apply(this, args);
            updateRateWidgets(this);  // a loaded workflow brings its links after the node is created
        };
        updateRateWidgets(node);
    },
});
