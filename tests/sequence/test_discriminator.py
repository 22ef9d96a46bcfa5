"""The CNN discriminator: the paper's filter bank, width scaling, and that it learns."""

import torch

from gmrl.sequence.discriminator import PAPER_NUM_FILTERS, CNNDiscriminator


def test_paper_filter_bank_and_width_scaling():
    full = CNNDiscriminator(5000, 20)
    assert [c.kernel_size[0] for c in full.convs] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20]
    assert sum(c.out_channels for c in full.convs) == sum(PAPER_NUM_FILTERS) == 1720
    quarter = CNNDiscriminator(5000, 20, width=0.25)
    assert sum(c.out_channels for c in quarter.convs) == 430
    short = CNNDiscriminator(50, 8, width=0.1)  # windows longer than the sequence are dropped
    assert max(c.kernel_size[0] for c in short.convs) == 8


def test_discriminator_learns_to_tell_real_from_fake():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 10, (256, 12), generator=g)  # real sequences use tokens 0-9 only
    fake = torch.randint(0, 40, (256, 12), generator=g)
    disc = CNNDiscriminator(40, 12, embed_dim=16, width=0.1, lr=1e-3)
    before = disc.accuracy(real, fake)
    disc.fit(real, fake, epochs=5, batch_size=32, generator=g)
    assert disc.accuracy(real, fake) > max(0.9, before)
    probs = disc.prob_real(real)
    assert probs.shape == (256,) and bool(((probs > 0) & (probs < 1)).all())
