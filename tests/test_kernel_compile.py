"""torch.compile(fullgraph=True) of the daGPAM module, forward and backward (issue 16.10).

While torch.compile traces, the kernel entry point routes to the SDPA path (plain
autograd ops; the CPU flash path's autograd Functions write into strided buffers,
which the tracer refuses). One small module, compiled once with the inductor
backend (the compile takes most of this test's time), must give eager's output and
gradients, with a causal mask, key padding and per-head trainable lambdas.
"""

import torch

from fairseq_gpam.modules import DagpamMultiheadAttention, GpamOptions

T, B, C, H = 5, 2, 16, 2


def fwd_bwd(module, x, kpm, causal):
    module.zero_grad(set_to_none=True)
    x.grad = None
    out, _ = module(x, x, x, key_padding_mask=kpm, attn_mask=causal, need_weights=False)
    out.square().sum().backward()
    grads = {n.removeprefix("_orig_mod."): p.grad.clone() for n, p in module.named_parameters()}
    grads["input"] = x.grad.clone()
    return out.detach(), grads


def test_module_compiles_fullgraph_forward_and_backward_and_equals_eager(device):
    torch._dynamo.reset()
    torch.manual_seed(0)
    options = GpamOptions(lambda_neg=0.3, lambda_mode="head", lambda_max=1.0, neg_query_init="xavier")
    module = DagpamMultiheadAttention(C, H, self_attention=True, options=options).to(device).train()
    x = torch.randn(T, B, C, device=device, requires_grad=True)
    kpm = torch.zeros(B, T, dtype=torch.bool, device=device)
    kpm[1, :2] = True
    causal = torch.triu(torch.full((T, T), float("-inf"), device=device), 1)

    want_out, want_grads = fwd_bwd(module, x, kpm, causal)
    compiled = torch.compile(module, fullgraph=True, backend="inductor")
    got_out, got_grads = fwd_bwd(compiled, x, kpm, causal)

    torch.testing.assert_close(got_out, want_out, atol=1e-5, rtol=1e-4)
    assert got_grads.keys() == want_grads.keys()
    for name, want in want_grads.items():
        torch.testing.assert_close(got_grads[name], want, atol=1e-5, rtol=1e-4, msg=name)
    assert got_grads["lambdas.theta"].abs().min() > 0
