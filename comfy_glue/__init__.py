"""The seam between Kinema and ComfyUI: thin wrappers over host API, one file per concern.

ComfyUI changing underneath a pack is the largest risk a pack has, so every use of ComfyUI
internals sits here, and nowhere in the core packages (``motion_modules``, ``frame_attention``,
``text2video_zero``, ``controlvideo``, ``interpolation``, ``windowing``, ``storydiffusion``,
``video_metrics``), which never import this package.
The functions only wrap host API and state facts about the host; decisions (when to fold
frames, which control image a frame gets, when a context handler needs help) are the core's.

Rules kept here:
- Changes to a model go through a ModelPatcher clone's own hooks (additional models,
  injections, patches, object patches, keyed wrappers), which ComfyUI applies and undoes
  itself. Nothing assigns to a ComfyUI module's attributes; the one write to host state is
  registering our model folders (and their file extensions) with ``folder_paths``.
- Differences between ComfyUI versions are detected by capability (a parameter in a
  signature, an attribute on a class or object), never by comparing version numbers.
- Every wrapper names, in one line, the ComfyUI versions it was checked against.

Files: ``folders`` (model folders), ``patcher`` (clones, injections, wrappers, UNet layout),
``layers`` (weight-casting layers, dtypes), ``attention`` (attention calls and attn1 patches),
``sampling`` (guiders, samplers, schedules, noise), ``context_windows`` (core context windows),
``controlnet`` (window-aware ControlNets, the ControlNets of a run), ``lora`` (weight patches),
``vae`` (decoding and encoding inside a sampler, progress bars), ``devices`` (where ComfyUI computes),
``text`` and ``photomaker`` (prompt encoding), ``clip_vision`` (image embeddings for video metrics).
"""
