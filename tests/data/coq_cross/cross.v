(* A second tiny library for the cross-project split: its own definition, never seen by training. *)
Require Import List.

Definition twice (n : nat) : nat := n + n.

Lemma twice_zero : twice 0 = 0.
Proof. reflexivity. Qed.

Lemma twice_plus : forall n, twice n = n + n.
Proof. intros n. unfold twice. reflexivity. Qed.
