import torch

from gazsl.generator.config import PRESETS
from gazsl.generator.model import Critic, Generator, gradient_penalty, pivot_loss


def tiny_config(**changes):
    sizes = {"text_reduced_dim": 3, "noise_dim": 2, "generator_hidden": 4, "critic_hidden": 2}
    return PRESETS["cpu"].replace(**{**sizes, **changes})


def test_gradient_penalty_matches_hand_computed_gradient():
    # D(x) = w2 . relu(W1 x + b1) + b2 on 2-d inputs; grad_x D = W1^T (w2 * [h > 0]).
    critic = Critic(feature_dim=2, n_seen=2, config=tiny_config())
    with torch.no_grad():
        critic.shared[0].weight.copy_(torch.tensor([[1.0, 2.0], [-1.0, 1.0]]))
        critic.shared[0].bias.zero_()
        critic.gan_head.weight.copy_(torch.tensor([[3.0, 0.5]]))
    real = torch.tensor([[1.0, 1.0], [2.0, 0.0]])
    fake = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    alpha = torch.tensor([[0.5], [1.0]])
    # interpolates: [0.5, 0.5] -> h = [1.5, 0] (second unit off); [2, 0] -> h = [2, -2] (second unit off)
    grad_row = torch.tensor([3.0 * 1.0, 3.0 * 2.0])  # W1^T (w2 * [1, 0]) = 3 * [1, 2]
    norm = grad_row.norm()
    expected = ((norm - 1) ** 2 + (norm - 1) ** 2) / 2
    assert torch.allclose(gradient_penalty(critic, real, fake, alpha), expected)


def test_gradient_penalty_is_differentiable_wrt_critic():
    with torch.random.fork_rng(devices=[]):  # seeded: at some draws every unit of the tiny critic is off on all
        torch.manual_seed(0)  # 5 points, and its gradient is zero however correct the penalty
        critic = Critic(feature_dim=4, n_seen=3, config=tiny_config())
        gp = gradient_penalty(critic, torch.randn(5, 4), torch.randn(5, 4), torch.rand(5, 1))
    gp.backward()
    assert critic.shared[0].weight.grad is not None and critic.shared[0].weight.grad.abs().sum() > 0


def test_pivot_loss_with_single_sample_and_absent_class():
    fake = torch.tensor([[1.0, 1.0], [3.0, 1.0], [0.0, 4.0]], requires_grad=True)
    labels = torch.tensor([0, 0, 1])  # class 0 twice, class 1 once, class 2 absent
    centroids = torch.tensor([[2.0, 0.0], [0.0, 1.0], [9.0, 9.0]])
    # class 0 mean [2, 1] -> distance 1; class 1 single sample [0, 4] -> distance 3; divided by S = 3
    loss = pivot_loss(fake, labels, centroids)
    assert torch.allclose(loss, torch.tensor(4.0 / 3))
    loss.backward()
    # the single sample's gradient is the unit vector away from its centroid, scaled by 1/S
    assert torch.allclose(fake.grad[2], torch.tensor([0.0, 1.0]) / 3)


def test_text_l21_norm_sums_column_norms():
    generator = Generator(text_dim=2, feature_dim=3, config=tiny_config(text_reduced_dim=2))
    with torch.no_grad():
        generator.text_layer.weight.copy_(torch.tensor([[3.0, 0.0], [4.0, 1.0]]))  # (R, T)
    assert torch.allclose(generator.text_l21(), torch.tensor(5.0 + 1.0))


def test_generator_weight_l2_excludes_biases():
    generator = Generator(text_dim=2, feature_dim=3, config=tiny_config())
    with torch.no_grad():
        for name, p in generator.named_parameters():
            p.fill_(1.0 if name.endswith("weight") else 100.0)
    n_weights = sum(p.numel() for name, p in generator.named_parameters() if name.endswith("weight"))
    assert generator.weight_l2().item() == n_weights


def test_generator_output_in_tanh_range_and_shapes():
    generator = Generator(text_dim=7, feature_dim=5, config=tiny_config())
    out = generator(torch.randn(6, 7) * 100, torch.randn(6, 2))
    assert out.shape == (6, 5) and out.abs().max() <= 1
